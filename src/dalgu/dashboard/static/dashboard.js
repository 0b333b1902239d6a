// Dalgu's dashboard: the alerts section refreshes itself (the page works without this script).
// Updates can be paused (WCAG 2.2.2); a change is announced politely, once per refresh that
// brought new alerts, not on every poll; nothing refreshes while the tab is hidden.
(function () {
  "use strict";
  var box = document.getElementById("alerts");
  var toggle = document.getElementById("live-toggle");
  var status = document.getElementById("live-status");
  if (!box || !toggle || !status || !window.fetch) { return; }
  var every = Math.max(5, parseInt(box.getAttribute("data-every"), 10) || 15) * 1000;
  var source = box.getAttribute("data-src");
  var paused = false;
  var timer = null;

  function say(text) { status.textContent = text; }

  function refresh() {
    if (paused || document.hidden) { return; }
    fetch(source, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html !== null && html.trim() !== box.innerHTML.trim()) {
          box.innerHTML = html;
          box.setAttribute("aria-live", "polite");
        }
      })
      .catch(function () { /* the next poll tries again */ });
  }

  function start() { timer = window.setInterval(refresh, every); }

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
  start();
}());
