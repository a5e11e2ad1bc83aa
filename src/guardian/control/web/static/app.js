// Guardian UI: local times, the collapsing nav, copy buttons. No data is ever put in
// the page as HTML: only textContent and attributes.
"use strict";

(function () {
  var zone = "UTC";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch (e) { /* keep UTC */ }

  // The server uses the zone for "today" and date filters.
  if (document.cookie.indexOf("guardian_tz=" + encodeURIComponent(zone)) === -1) {
    document.cookie = "guardian_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
  }

  var formats = {};
  function formatter(style) {
    if (formats[style]) return formats[style];
    var options = {
      datetime: { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" },
      time: { hour: "2-digit", minute: "2-digit", second: "2-digit" },
      date: { year: "numeric", month: "short", day: "numeric" },
      day: { weekday: "long", year: "numeric", month: "long", day: "numeric" }
    }[style] || {};
    try {
      formats[style] = new Intl.DateTimeFormat(undefined, options);
    } catch (e) {
      formats[style] = null;
    }
    return formats[style];
  }

  // "day" values are YYYY-MM-DD calendar days: shown as such, never shifted by a zone.
  function localise(el) {
    var value = el.getAttribute("datetime");
    var style = el.getAttribute("data-style") || "datetime";
    if (!value) return;
    var date = style === "day" && value.length === 10 ? new Date(value + "T12:00:00") : new Date(value);
    var fmt = formatter(style);
    if (isNaN(date.getTime()) || !fmt) return;
    el.textContent = fmt.format(date);
    if (style !== "day") el.title = date.toISOString().replace(".000Z", "Z") + " (UTC)";
  }

  function localiseAll(root) {
    var times = (root || document).querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) localise(times[i]);
  }

  window.Guardian = {
    zone: zone,
    localise: localise,
    localiseAll: localiseAll,
    dayOf: function (iso) {
      // The viewer's calendar day (YYYY-MM-DD) of an instant.
      var d = new Date(iso);
      var y = d.getFullYear(), m = d.getMonth() + 1, day = d.getDate();
      return y + "-" + (m < 10 ? "0" : "") + m + "-" + (day < 10 ? "0" : "") + day;
    },
    csrf: function () {
      var meta = document.querySelector('meta[name="csrf-token"]');
      return meta ? meta.getAttribute("content") : "";
    }
  };

  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
    localiseAll(document);
    var names = document.querySelectorAll("[data-tz-name]");
    for (var i = 0; i < names.length; i++) names[i].textContent = zone;

    var toggle = document.querySelector(".nav-toggle");
    var nav = document.getElementById("main-nav");
    if (toggle && nav) {
      toggle.addEventListener("click", function () {
        var open = toggle.getAttribute("aria-expanded") === "true";
        toggle.setAttribute("aria-expanded", open ? "false" : "true");
        nav.classList.toggle("open", !open);
      });
      document.addEventListener("keydown", function (ev) {
        if (ev.key === "Escape" && nav.classList.contains("open")) {
          toggle.setAttribute("aria-expanded", "false");
          nav.classList.remove("open");
          toggle.focus();
        }
      });
    }

    var copies = document.querySelectorAll("[data-copy]");
    for (var j = 0; j < copies.length; j++) {
      copies[j].addEventListener("click", function (ev) {
        var button = ev.currentTarget;
        var source = document.getElementById(button.getAttribute("data-copy"));
        if (!source || !navigator.clipboard) return;
        navigator.clipboard.writeText(source.textContent).then(function () {
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = "Copy"; }, 2000);
        });
      });
    }
  });
})();
