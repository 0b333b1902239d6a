// Dalgu's dashboard: its sections (counts, alerts, Wi-Fi zones, devices, map) refresh
// themselves; the page works without this script. Updates can be paused (WCAG 2.2.2); new
// alerts are announced politely, once per refresh that brought them, not on every poll; the
// other sections change quietly; nothing refreshes while the tab is hidden.
(function () {
  "use strict";
  var alerts = document.getElementById("alerts");
  var toggle = document.getElementById("live-toggle");
  var status = document.getElementById("live-status");
  if (!alerts || !toggle || !status || !window.fetch) { return; }
  var every = Math.max(5, parseInt(alerts.getAttribute("data-every"), 10) || 15) * 1000;
  var parts = Array.prototype.slice.call(document.querySelectorAll("[data-src]"));
  var paused = false;

  function say(text) { status.textContent = text; }

  function load(box) {
    fetch(box.getAttribute("data-src"), {
      headers: { "Accept": "text/html" }, credentials: "same-origin"
    })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html !== null && html.trim() !== box.innerHTML.trim()) {
          box.innerHTML = html;
          if (box === alerts) { box.setAttribute("aria-live", "polite"); }
        }
      })
      .catch(function () { /* the next poll tries again */ });
  }

  function refresh() {
    if (paused || document.hidden) { return; }
    parts.forEach(load);
  }

  toggle.hidden = false;
  status.hidden = false;
  say(status.getAttribute("data-on"));
  toggle.addEventListener("click", function () {
    paused = !paused;
    toggle.setAttribute("aria-pressed", paused ? "true" : "false");
    toggle.textContent = toggle.getAttribute(paused ? "data-resume" : "data-pause");
    say(status.getAttribute(paused ? "data-off" : "data-on"));
    if (!paused) { refresh(); }
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { refresh(); }
  });
  window.setInterval(refresh, every);
}());
