// The dashboard's only script (htmx does the rest). No inline scripts: the pages' CSP allows
// scripts from this origin only.
(function () {
  "use strict";

  // Hot leads, live: cards arrive as server-sent events and go to the top of the list.
  function liveLeads() {
    var list = document.getElementById("live-leads");
    if (!list || !window.EventSource) return;
    var status = document.getElementById("live-status");
    var source = new EventSource("/app/leads/stream?since=" + encodeURIComponent(list.dataset.since || ""));
    source.onopen = function () { if (status) status.textContent = "Live: new hot leads appear here by themselves."; };
    source.onerror = function () { if (status) status.textContent = "Reconnecting…"; };
    source.addEventListener("lead", function (e) {
      var tpl = document.createElement("template");
      tpl.innerHTML = e.data.trim();
      var card = tpl.content.firstElementChild;
      if (!card) return;
      var id = card.getAttribute("data-call");
      var seen = Array.prototype.some.call(list.children, function (c) { return c.getAttribute("data-call") === id; });
      if (seen) return;
      card.classList.add("new");
      list.insertBefore(card, list.firstChild);
      var empty = document.getElementById("no-leads");
      if (empty) empty.remove();
    });
  }

  // The walk-through's pretend call: lines appear one after another.
  function simulation() {
    var sim = document.getElementById("simulation");
    if (!sim) return;
    var lines = sim.querySelectorAll(".line");
    Array.prototype.forEach.call(lines, function (l) { l.classList.add("pending"); });
    var i = 0;
    var timer = setInterval(function () {
      if (i >= lines.length) { clearInterval(timer); return; }
      lines[i].classList.remove("pending");
      i += 1;
    }, 500);
  }

  document.addEventListener("DOMContentLoaded", function () {
    liveLeads();
    simulation();
  });
})();
