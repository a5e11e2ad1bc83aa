// The timeline: date headings in the viewer's own days, and new events live (SSE).
"use strict";

(function () {
  var list, status, seen = {};

  function humanise(word) {
    var text = String(word || "").replace(/_/g, " ").trim();
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  // Rebuild the day headings from the rows' start times, in the viewer's zone.
  function regroup() {
    var headers = list.querySelectorAll("li.day");
    for (var i = 0; i < headers.length; i++) headers[i].remove();
    var rows = list.querySelectorAll("li.event-row");
    var current = null;
    for (var j = 0; j < rows.length; j++) {
      var day = window.Guardian.dayOf(rows[j].getAttribute("data-started"));
      if (day === current) continue;
      current = day;
      var li = document.createElement("li");
      li.className = "day";
      li.setAttribute("data-day", day);
      var h = document.createElement("h3");
      h.className = "day-title";
      var t = document.createElement("time");
      t.setAttribute("datetime", day);
      t.setAttribute("data-style", "day");
      t.textContent = day;
      h.appendChild(t);
      li.appendChild(h);
      list.insertBefore(li, rows[j]);
      window.Guardian.localise(t);
    }
  }

  function pill(parent, text, extra) {
    var span = document.createElement("span");
    span.className = "pill" + (extra ? " " + extra : "");
    span.textContent = text;
    parent.appendChild(span);
  }

  function fillRow(li, ev) {
    li.setAttribute("data-event-id", ev.id);
    li.setAttribute("data-started", ev.started_at);
    var link = li.querySelector("a.event-link");
    link.setAttribute("href", "/events/" + encodeURIComponent(ev.id));
    var time = li.querySelector("time");
    time.setAttribute("datetime", ev.started_at);
    time.textContent = ev.started_at;
    window.Guardian.localise(time);
    var type = li.querySelector(".event-type");
    type.textContent = humanise(ev.type);
    type.className = "event-type type-" + (ev.type === "interaction_detected" ? "interaction" : "other");
    li.querySelector(".event-source").textContent =
      (ev.camera || ev.source_name || "") + (ev.zone ? " · " + ev.zone : "");
    var meta = li.querySelector(".event-meta");
    while (meta.firstChild) meta.removeChild(meta.firstChild);
    if (ev.person_count) pill(meta, ev.person_count + (ev.person_count === 1 ? " person" : " people"));
    if (ev.has_notes) pill(meta, "Note", "pill-note");
    if (ev.archive) pill(meta, "Archived", "pill-archived");
    if (ev.state === "active") pill(meta, "Ongoing", "pill-live");
  }

  function matches(ev) {
    var camera = list.getAttribute("data-camera");
    var type = list.getAttribute("data-type");
    if (camera && ev.camera_id !== camera) return false;
    if (type && ev.type !== type) return false;
    return true;
  }

  function insert(ev) {
    var template = document.getElementById("event-row-template");
    var li = template.content.firstElementChild.cloneNode(true);
    fillRow(li, ev);
    // Keep newest first: before the first row that started earlier.
    var rows = list.querySelectorAll("li.event-row");
    var before = null;
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].getAttribute("data-started") <= ev.started_at) { before = rows[i]; break; }
    }
    list.insertBefore(li, before);
    setTimeout(function () { li.classList.add("event-seen"); }, 4000);  // fade the highlight
    var empty = document.getElementById("empty-state");
    if (empty) empty.hidden = true;
    regroup();
  }

  function onEvent(message) {
    var ev;
    try { ev = JSON.parse(message.data); } catch (e) { return; }
    if (!ev || !ev.id || !matches(ev)) return;
    var existing = list.querySelector('li.event-row[data-event-id="' + CSS.escape(ev.id) + '"]');
    if (existing) {
      if (!existing.querySelector(".event-type")) return;
      fillRow(existing, ev);
      return;
    }
    if (seen[ev.id]) return;
    seen[ev.id] = true;
    if (list.getAttribute("data-filtered-text")) {
      document.getElementById("new-events").hidden = false;  // text/date filters: reload to see
      return;
    }
    insert(ev);
  }

  function connect() {
    if (!window.EventSource) return;
    var source = new EventSource("/events/live");
    source.addEventListener("open", function () {
      status.textContent = "Live";
      status.classList.add("is-live");
    });
    source.addEventListener("error", function () {
      status.textContent = "Reconnecting…";
      status.classList.remove("is-live");
    });
    source.addEventListener("event", onEvent);
  }

  document.addEventListener("DOMContentLoaded", function () {
    list = document.getElementById("timeline");
    status = document.getElementById("live-status");
    if (!list) return;
    regroup();
    var panel = document.getElementById("filter-panel");
    if (panel && !panel.getAttribute("data-filtered") && window.matchMedia &&
        window.matchMedia("(max-width: 760px)").matches) {
      panel.open = false;  // phones: the list first, filters one tap away
    }
    var show = document.getElementById("show-new");
    if (show) show.addEventListener("click", function () { window.location.reload(); });
    if (status && status.getAttribute("data-live") === "on") connect();
  });
})();
