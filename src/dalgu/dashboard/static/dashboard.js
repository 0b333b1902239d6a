// Dalgu's dashboard: its sections (counts, alerts, Wi-Fi zones, devices, map) refresh
// themselves; the page works without this script. Updates can be paused (WCAG 2.2.2); nothing
// refreshes while the tab is hidden.
//
// A refresh changes only the nodes whose content changed (rows are matched by their
// `data-key`), so the element that has keyboard focus stays in place (2.4.3); a section is
// left as it is while focus is on a row that the refresh would remove. The sections are not
// live regions: new alerts (an alert id not seen before) are announced once, in a short
// sentence, by the polite region `#alert-news` that exists from the page's load (4.1.3). The
// status line says when a refresh failed; the banner's "As of" time follows the last refresh
// that read every section.
(function () {
  "use strict";
  var alerts = document.getElementById("alerts");
  var toggle = document.getElementById("live-toggle");
  var status = document.getElementById("live-status");
  var news = document.getElementById("alert-news");
  var asOf = document.querySelector("header time");
  if (!alerts || !toggle || !status || !news || !window.fetch || !window.Promise) { return; }
  var seconds = Math.max(5, parseInt(alerts.getAttribute("data-every"), 10) || 15);
  var parts = Array.prototype.slice.call(document.querySelectorAll("[data-src]"));
  // a pause lasts for the tab (a reload, the other language), not for ever: alerts matter
  var remembered = "dalgu-dashboard-paused";
  var paused = stored() === "1";
  var failedSince = null;
  var seen = keysOf(alerts);

  function stored() {
    try { return window.sessionStorage.getItem(remembered); } catch (e) { return null; }
  }

  function remember() {
    try { window.sessionStorage.setItem(remembered, paused ? "1" : "0"); } catch (e) { /* none */ }
  }

  function say(text) { if (status.textContent !== text) { status.textContent = text; } }

  function keysOf(root) {
    var found = {};
    Array.prototype.forEach.call(root.querySelectorAll("[data-key]"), function (node) {
      found[node.getAttribute("data-key")] = node;
    });
    return found;
  }

  function keyOf(node) {
    return node.nodeType === 1 ? node.getAttribute("data-key") : null;
  }

  // `from` (in the page) made equal to `to` (parsed), reusing every node that can be kept
  function morph(from, to) {
    var i, name;
    for (i = from.attributes.length - 1; i >= 0; i--) {
      name = from.attributes[i].name;
      if (!to.hasAttribute(name)) { from.removeAttribute(name); }
    }
    for (i = 0; i < to.attributes.length; i++) {
      name = to.attributes[i].name;
      if (from.getAttribute(name) !== to.attributes[i].value) {
        from.setAttribute(name, to.attributes[i].value);
      }
    }
    morphChildren(from, to);
  }

  function morphChildren(from, to) {
    var keyed = {};
    var loose = [];
    Array.prototype.forEach.call(from.childNodes, function (node) {
      var key = keyOf(node);
      if (key !== null) { keyed[key] = node; } else { loose.push(node); }
    });
    var next = 0;
    var wanted = Array.prototype.slice.call(to.childNodes);
    var kept = [];
    wanted.forEach(function (node, index) {
      var key = keyOf(node);
      var match = null;
      if (key !== null) {
        if (keyed[key] && keyed[key].nodeName === node.nodeName) { match = keyed[key]; }
        delete keyed[key];
      } else {
        while (next < loose.length && match === null) {
          var candidate = loose[next++];
          if (candidate.nodeType === node.nodeType && candidate.nodeName === node.nodeName) {
            match = candidate;
          }
        }
      }
      var here = from.childNodes[index] || null;
      if (match === null) {
        from.insertBefore(node, here);
        kept.push(node);
        return;
      }
      if (match.nodeType === 1) {
        morph(match, node);
      } else if (match.nodeValue !== node.nodeValue) {
        match.nodeValue = node.nodeValue;
      }
      if (match !== here) { from.insertBefore(match, here); }
      kept.push(match);
    });
    Array.prototype.slice.call(from.childNodes, kept.length).forEach(function (node) {
      from.removeChild(node);
    });
  }

  function announce(box) {
    var now = keysOf(box);
    var fresh = Object.keys(now).filter(function (key) { return !seen[key]; });
    seen = now;
    if (!fresh.length) { return; }
    var lead = fresh.length === 1 ? news.getAttribute("data-one")
      : news.getAttribute("data-many").replace("{count}", String(fresh.length));
    news.textContent = "";
    window.setTimeout(function () {  // a new text, so that the same words are read again
      news.appendChild(document.createTextNode(lead));
      fresh.slice(0, 3).forEach(function (key) {
        var cells = Array.prototype.filter.call(now[key].querySelectorAll("[data-say]"),
          function (cell) { return cell.textContent.trim() !== ""; });
        news.appendChild(document.createTextNode(" "));
        cells.forEach(function (cell, index) {
          if (index) { news.appendChild(document.createTextNode(", ")); }
          var part = document.createElement("span");
          if (cell.hasAttribute("lang")) { part.setAttribute("lang", cell.getAttribute("lang")); }
          part.textContent = cell.textContent.trim();
          news.appendChild(part);
        });
        news.appendChild(document.createTextNode("."));
      });
    }, 100);
  }

  function put(box, html) {
    if (html === box.dalguShown) { return; }
    var parsed = document.createElement("template");
    parsed.innerHTML = html;
    var focused = document.activeElement;
    var holds = focused && focused !== document.body && box.contains(focused);
    if (holds) {
      var row = focused.closest("[data-key]");
      if (row && !parsed.content.querySelector(
        '[data-key="' + window.CSS.escape(row.getAttribute("data-key")) + '"]')) {
        return;  // the row under focus is gone: left as it is until focus moves on
      }
    }
    morphChildren(box, parsed.content);
    box.dalguShown = html;
    if (holds && document.activeElement !== focused && focused.isConnected) {
      focused.focus({ preventScroll: true });  // a row moved: focus goes with it
    }
    if (box === alerts) { announce(box); }
  }

  function load(box) {
    return fetch(box.getAttribute("data-src"), {
      headers: { "Accept": "text/html" }, credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      var date = Date.parse(response.headers.get("Date") || "");
      return response.text().then(function (html) {
        put(box, html.trim());
        return isNaN(date) ? Date.now() : date;
      });
    });
  }

  function clock(moment) {  // Daegu's time, as the server writes it
    var d = new Date(moment + 9 * 3600 * 1000);
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return d.getUTCFullYear() + "-" + two(d.getUTCMonth() + 1) + "-" + two(d.getUTCDate()) +
      " " + two(d.getUTCHours()) + ":" + two(d.getUTCMinutes()) + ":" + two(d.getUTCSeconds());
  }

  function refresh() {
    if (paused || document.hidden) { return; }
    Promise.all(parts.map(function (box) {
      return load(box).then(null, function () { return null; });
    })).then(function (moments) {
      if (paused) { return; }
      if (moments.indexOf(null) >= 0) {
        if (failedSince === null) { failedSince = clock(Date.now()).slice(11, 16); }
        say(status.getAttribute("data-failed").replace("{time}", failedSince));
        return;
      }
      failedSince = null;
      say(status.getAttribute("data-on"));
      if (asOf) {
        var moment = Math.min.apply(Math, moments);
        asOf.setAttribute("datetime", new Date(moment).toISOString());
        asOf.textContent = clock(moment) + " KST";
      }
    });
  }

  function show() {
    toggle.setAttribute("aria-pressed", paused ? "true" : "false");  // its label stays
    say(status.getAttribute(paused ? "data-off" : "data-on"));
  }

  toggle.hidden = false;
  status.hidden = false;
  show();
  toggle.addEventListener("click", function () {
    paused = !paused;
    remember();
    show();
    if (!paused) { refresh(); }
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { refresh(); }
  });
  window.setInterval(refresh, seconds * 1000);
}());
