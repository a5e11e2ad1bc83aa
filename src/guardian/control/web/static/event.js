// The event page: the clip player's error messages and the snapshot's boxes.
"use strict";

(function () {
  var SVG = "http://www.w3.org/2000/svg";

  function say(el, text) {
    el.textContent = text;
    el.hidden = false;
  }

  var renewed = false;

  // Playback links are short-lived: ask the control plane for new ones, once.
  function renew(video, player, message) {
    renewed = true;
    var id = player.getAttribute("data-event-id");
    fetch("/events/" + encodeURIComponent(id) + "/media", {
      method: "POST",
      headers: { "X-CSRF-Token": window.Guardian.csrf() },
      credentials: "same-origin"
    }).then(function (r) { return r.json(); }).then(function (body) {
      if (!body || !body.clip) {
        say(message, (body && body.problem) || "The clip is not available.");
        return;
      }
      var at = video.currentTime;
      player.setAttribute("data-media-url", body.clip.url);
      video.src = body.clip.url;
      video.currentTime = at;
      var link = document.getElementById("clip-download");
      if (link) link.setAttribute("href", body.clip.download_url);
    }).catch(function () {
      say(message, "The clip could not be loaded; reload the page.");
    });
  }

  // The relay answers errors as JSON ({"error": {"message"}}); show its reason.
  function explain(url, message, expired) {
    fetch(url, { headers: { Range: "bytes=0-0" }, mode: "cors", credentials: "omit" })
      .then(function (response) {
        if (response.ok) {
          say(message, "The clip could not be played in this browser. Use “Download clip” instead.");
          return null;
        }
        return response.json().then(function (body) {
          if ((response.status === 401 || response.status === 403) && expired) {
            expired();
            return;
          }
          var reason = body && body.error && body.error.message ? body.error.message : "status " + response.status;
          var lead = response.status === 503 ? "The site's appliance is offline, so its clip cannot be fetched right now"
            : response.status === 404 ? "This clip is not on the appliance (a clip is ready shortly after its event ends)"
            : response.status === 401 || response.status === 403 ? "The playback link has expired; reload the page"
            : "The clip could not be loaded";
          say(message, lead + " (" + reason + ").");
          message.parentNode.classList.add("player-failed");
        }, function () {
          say(message, "The clip could not be loaded (status " + response.status + ").");
        });
      })
      .catch(function () {
        say(message, "The relay could not be reached. Check the connection and reload the page.");
      });
  }

  function setupPlayer() {
    var player = document.getElementById("player");
    var video = document.getElementById("clip-player");
    var message = document.getElementById("player-message");
    if (!player || !video || !message) return;
    video.addEventListener("error", function () {
      var again = renewed ? null : function () { renew(video, player, message); };
      explain(player.getAttribute("data-media-url"), message, again);
    });
    video.addEventListener("playing", function () { message.hidden = true; });
  }

  function numbers(value) {
    if (Array.isArray(value) && value.length === 4 && value.every(function (n) { return typeof n === "number"; })) {
      return value;
    }
    return null;
  }

  function boxesOf(body) {
    var list = Array.isArray(body) ? body : (body && (body.boxes || body.detections)) || [];
    var found = [];
    if (body && numbers(body.best_box)) found.push({ box: body.best_box, label: body.label || "" });
    for (var i = 0; i < list.length; i++) {
      var item = list[i];
      var box = numbers(item) || (item && numbers(item.box)) || (item && numbers(item.bbox));
      if (box) found.push({ box: box, label: (item && item.label) || "" });
    }
    return found;
  }

  // Boxes come in the snapshot's pixels ("units": "pixels") or as fractions of it.
  function drawBoxes(svg, img, boxes, units) {
    var w = img.naturalWidth || 1, h = img.naturalHeight || 1;
    for (var i = 0; i < boxes.length; i++) {
      var b = boxes[i].box;
      var pixels = units ? units === "pixels" : (b[2] > 1.0001 || b[3] > 1.0001);
      var x1 = pixels ? b[0] / w : b[0], y1 = pixels ? b[1] / h : b[1];
      var x2 = pixels ? b[2] / w : b[2], y2 = pixels ? b[3] / h : b[3];
      var rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", String(x1));
      rect.setAttribute("y", String(y1));
      rect.setAttribute("width", String(Math.max(0, x2 - x1)));
      rect.setAttribute("height", String(Math.max(0, y2 - y1)));
      rect.setAttribute("class", "box");
      rect.setAttribute("vector-effect", "non-scaling-stroke");
      var title = document.createElementNS(SVG, "title");
      title.textContent = boxes[i].label;
      rect.appendChild(title);
      svg.appendChild(rect);
    }
    svg.setAttribute("data-boxes", String(boxes.length));
  }

  function setupSnapshot() {
    var figure = document.getElementById("snapshot");
    var img = document.getElementById("snapshot-img");
    var svg = document.getElementById("snapshot-boxes");
    if (!figure || !img || !svg) return;
    img.addEventListener("error", function () {
      figure.classList.add("snapshot-missing");
      var p = document.createElement("p");
      p.className = "player-message";
      p.textContent = "The snapshot could not be loaded from the site's appliance.";
      figure.appendChild(p);
    });
    var url = figure.getAttribute("data-boxes-url");
    if (!url) return;
    var boxes = fetch(url, { mode: "cors", credentials: "omit" }).then(function (r) {
      return r.ok ? r.json() : null;
    }).catch(function () { return null; });
    var loaded = new Promise(function (resolve) {
      if (img.complete && img.naturalWidth) resolve();
      else img.addEventListener("load", function () { resolve(); });
    });
    Promise.all([boxes, loaded]).then(function (values) {
      if (values[0]) drawBoxes(svg, img, boxesOf(values[0]), values[0].units);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupPlayer();
    setupSnapshot();
  });
})();
