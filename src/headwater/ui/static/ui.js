// Live updates of an instance's pollers, events and deliveries: the page is fetched again every
// few seconds and its [data-live] parts replaced, unless the user is in one of them or paused it.
(function () {
  "use strict";
  var parts = document.querySelectorAll("[data-live]");
  var toggle = document.querySelector("[data-live-toggle]");
  if (!parts.length || !toggle) { return; }
  var live = true;
  toggle.hidden = false;
  toggle.addEventListener("click", function () {
    live = !live;
    toggle.setAttribute("aria-pressed", String(live));
    toggle.textContent = live ? "Live updates on" : "Live updates off";
  });
  function busy(part) {
    return part.contains(document.activeElement) || part.querySelector("details[open]");
  }
  function refresh() {
    if (!live || document.hidden) { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        parts.forEach(function (part) {
          var next = fresh.querySelector('[data-live="' + part.dataset.live + '"]');
          if (next && !busy(part) && next.innerHTML !== part.innerHTML) { part.innerHTML = next.innerHTML; }
        });
      })
      .catch(function () {});
  }
  window.setInterval(refresh, 3000);
})();
