"""Where the time goes: a summary of the py-spy profiles a bench's ``--profile DIR`` wrote.

    .venv/bin/python bench/profile_summary.py DIR/poll-0-changes-process0.txt [--top 25]

Reads py-spy's collapsed stacks (``--format raw``; idle samples are not in them, so every
sample is CPU spent) and prints JSON: the share of samples under each layer (a stack counts
once for each layer it passes through), the functions with the most samples under them
(inclusive), and the frames most often on top (self).
"""

from __future__ import annotations

import argparse
import collections
import json
import re
from pathlib import Path

# a frame of py-spy's raw format: "function (path/to/module.py:line)"
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")

LAYERS = {
    "headwater.poller": "headwater/poller/",
    "headwater.delivery": "headwater/delivery/",
    "headwater.storage": "headwater/storage/",
    "headwater.elements": "headwater/elements/",
    "headwater.api": "headwater/api/",
    "sqlalchemy": "sqlalchemy/",
    "sqlalchemy compile": "sqlalchemy/sql/compiler.py",
    "aiosqlite": "aiosqlite/",
    "asyncpg": "asyncpg/",
    "aiohttp": "aiohttp/",
    "asyncio": "asyncio/",
    "logging": "logging/",
    "json": "json/",
    "uvicorn/starlette/fastapi": ("uvicorn/", "starlette/", "fastapi/"),
    "prometheus_client": "prometheus_client/",
    "cryptography/hmac/hashlib": ("hmac.py", "hashlib.py", "cryptography/"),
}


def _where(frame: str) -> tuple[str, str]:
    found = _FRAME.match(frame.strip())
    if found is None:
        return frame.strip(), ""
    path = found["file"]
    short = path.split("site-packages/")[-1].split("/src/")[-1].split("/lib/python3.11/")[-1]
    return found["function"], short


def summarize(path: Path, top: int) -> dict[str, object]:
    total = 0
    layers: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_where(f) for f in stack.split(";")]
        named = [f"{function} ({file})" for function, file in frames]
        files = {file for _, file in frames}
        for layer, marks in LAYERS.items():
            marks_tuple = marks if isinstance(marks, tuple) else (marks,)
            if any(mark in file for file in files for mark in marks_tuple):
                layers[layer] += count
        for name in set(named):
            inclusive[name] += count
        own[named[-1]] += count

    def share(counter: collections.Counter[str], n: int) -> list[list[object]]:
        return [[name, round(c / total, 3)] for name, c in counter.most_common(n)]

    return {
        "profile": str(path),
        "samples": total,
        "layers": dict(share(layers, len(LAYERS))),  # type: ignore[arg-type]
        "inclusive": share(inclusive, top),
        "self": share(own, top),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profiles", type=Path, nargs="+")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(json.dumps([summarize(p, args.top) for p in args.profiles], indent=1))


if __name__ == "__main__":
    main()
