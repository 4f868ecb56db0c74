#!/usr/bin/env bash
# Installs what the browser tests need when it is missing: Debian's Chromium (Playwright drives
# it; its own browser downloads are never used) and axe-core from npm into tests/ui/.node.
# Under CI=true anything that cannot be installed fails here, and the tests fail rather than skip.
set -u
cd "$(dirname "$0")/.."
AXE_VERSION=4.14.1
status=0
missing=""
command -v chromium >/dev/null 2>&1 || missing="chromium"
command -v npm >/dev/null 2>&1 || [ -f tests/ui/.node/node_modules/axe-core/axe.min.js ] \
  || missing="$missing npm"
if [ -n "$missing" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    # shellcheck disable=SC2086 # one word per package
    (apt-get update -q && apt-get install -y -q $missing) >/dev/null 2>&1 || status=1
  else
    status=1
  fi
  command -v chromium >/dev/null 2>&1 || echo "Chromium is missing: apt-get install chromium" >&2
fi
if [ ! -f tests/ui/.node/node_modules/axe-core/axe.min.js ]; then
  if command -v npm >/dev/null 2>&1; then
    mkdir -p tests/ui/.node
    npm install --prefix tests/ui/.node --no-audit --no-fund --silent "axe-core@${AXE_VERSION}" \
      >/dev/null 2>&1 || status=1
  else
    status=1
  fi
  [ -f tests/ui/.node/node_modules/axe-core/axe.min.js ] || echo "axe-core is missing: npm install" >&2
fi
if [ "$status" != "0" ] && [ "${CI:-}" = "true" ]; then
  echo "the browser tests' dependencies could not be installed" >&2
  exit 1
fi
exit 0
