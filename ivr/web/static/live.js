// The live wallboard refreshes itself: it asks the board's JSON (data-source) every data-refresh seconds and
// updates each figure in place. Plain JS, no inline script (CSP script-src 'self'); the server keeps no state,
// so any web process answers. When the desks or their targets change, the page is loaded again.
(function () {
  "use strict";
  var board = document.querySelector(".live-board");
  if (!board || !window.fetch) {
    return;
  }
  var source = board.getAttribute("data-source");
  var every = Math.max(2, parseInt(board.getAttribute("data-refresh"), 10) || 5) * 1000;
  var shape = null; // the desks and their targets when the page was drawn
  var timer = null;
  var busy = false; // a request is on its way: never two at once

  function shown(value, format) {
    if (value === null || value === undefined) {
      return "\u2014";
    }
    if (format === "percent") {
      return Math.round(value * 100) + " %";
    }
    if (format === "seconds") {  // as ivr.web.story.duration writes them: 42 s, 2 min 5 s, 1 h 3 min
      var seconds = Math.round(value);
      if (seconds < 60) {
        return seconds + " s";
      }
      var minutes = Math.floor(seconds / 60), rest = seconds % 60;
      if (minutes < 60) {
        return minutes + " min" + (rest ? " " + rest + " s" : "");
      }
      var hours = Math.floor(minutes / 60);
      minutes = minutes % 60;
      return hours + " h" + (minutes ? " " + minutes + " min" : "");
    }
    return String(value);
  }

  function shapeOf(doc) {
    return JSON.stringify(doc.desks.map(function (row) {
      return [row.desk, row.label, row.takes_calls_by, row.timezone, row.day_started_at, row.targets];
    }));
  }

  function update(section, row) {
    section.querySelectorAll("[data-field]").forEach(function (element) {
      var path = element.getAttribute("data-field").split(".");
      element.textContent = shown(row[path[0]][path[1]], element.getAttribute("data-format"));
    });
    section.querySelectorAll("[data-status]").forEach(function (element) {
      var verdict = row.status[element.getAttribute("data-status")];
      element.classList.toggle("met", verdict === "met");
      element.classList.toggle("missed", verdict === "missed");
      var words = element.querySelector("[data-verdict]");
      if (words) {
        words.textContent = verdict || "";
      }
    });
  }

  function stale(yes) {
    var note = document.querySelector("[data-live=stale]");
    if (note) {
      note.hidden = !yes;
    }
  }

  function draw(doc) {
    var now = shapeOf(doc);
    if (shape === null) {
      shape = now;
    } else if (shape !== now) {
      window.location.reload(); // new desks, targets or a new day: draw the page again
      return;
    }
    doc.desks.forEach(function (row) {
      var section = board.querySelector('[data-desk="' + row.desk + '"]');
      if (section) {
        update(section, row);
      }
    });
    var at = document.querySelector("[data-live=at]");
    if (at) {
      at.setAttribute("datetime", doc.at);
      at.textContent = doc.at.slice(11, 19) + " UTC";
    }
    stale(false);
  }

  function refresh() {
    if (timer !== null) {
      window.clearTimeout(timer);
      timer = null;
    }
    if (busy) {
      return;
    }
    busy = true;
    fetch(source, {credentials: "same-origin", cache: "no-store", headers: {Accept: "application/json"}})
      .then(function (response) {
        if (response.status === 401 || response.redirected) {
          window.location.reload(); // signed out: let the page ask for a sign-in
          return null;
        }
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (doc) {
        if (doc) {
          draw(doc);
        }
      })
      .catch(function () {
        stale(true);
      })
      .then(function () {
        busy = false;
        schedule();
      });
  }

  function schedule() {
    if (timer === null && !document.hidden) {
      timer = window.setTimeout(refresh, every);
    }
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      if (timer !== null) {
        window.clearTimeout(timer);
        timer = null;
      }
    } else {
      refresh();
    }
  });
  // the first answer only learns the page's shape; the page itself was drawn from the same document
  refresh();
})();
