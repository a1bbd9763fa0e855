// xtalk report: progressive enhancement only; every essential is readable without this script.
// Data comes from the JSON block (never evaluated as code) and enters the page through
// textContent only: nothing here builds HTML from strings.
(function () {
  "use strict";

  function readData() {
    var el = document.getElementById("xtalk-data");
    if (!el) { return {}; }
    try { return JSON.parse(el.textContent || "{}"); } catch (e) { return {}; }
  }

  function make(tag, text, cls) {
    var el = document.createElement(tag);
    if (text !== undefined && text !== null) { el.textContent = String(text); }
    if (cls) { el.className = cls; }
    return el;
  }

  // Findings filter: hide the findings whose text does not contain the query.
  function setupFilter() {
    var box = document.getElementById("finding-filter-box");
    var input = document.getElementById("finding-filter");
    var count = document.getElementById("finding-filter-count");
    if (!box || !input) { return; }
    box.hidden = false;
    var items = Array.prototype.slice.call(document.querySelectorAll("#findings-list details.finding"));
    var groups = Array.prototype.slice.call(document.querySelectorAll("#findings-list .finding-group"));
    var texts = null;
    input.addEventListener("input", function () {
      if (texts === null) {
        texts = items.map(function (el) { return (el.textContent || "").toLowerCase(); });
      }
      var query = input.value.trim().toLowerCase();
      var shown = 0;
      items.forEach(function (el, i) {
        var hit = !query || texts[i].indexOf(query) !== -1;
        el.hidden = !hit;
        if (hit) { shown += 1; }
      });
      groups.forEach(function (group) {
        group.hidden = !group.querySelector("details.finding:not([hidden])");
      });
      if (count) { count.textContent = query ? shown + " of " + items.length + " shown" : ""; }
    });
  }

  // A link to a collapsed <details> opens it.
  function openTarget() {
    var id = "";
    try { id = decodeURIComponent(window.location.hash.slice(1)); } catch (e) { return; }
    if (!id) { return; }
    var el = document.getElementById(id);
    if (el && el.tagName === "DETAILS") { el.open = true; }
  }

  // Grouped matrix: clicking a block shows the user-level sub-matrix of that block.
  function setupDrill(matrix) {
    var panel = document.getElementById("drill-panel");
    if (!matrix || !panel || !matrix.groups) { return; }
    var groupOf = [];
    matrix.groups.forEach(function (g, gi) { g.members.forEach(function (u) { groupOf[u] = gi; }); });
    var LIMIT = 40;

    function show(gi, gj) {
      var cells = matrix.cells.filter(function (c) { return groupOf[c[0]] === gi && groupOf[c[1]] === gj; });
      var owners = [], receivers = [], seenO = {}, seenR = {}, counts = {};
      cells.sort(function (a, b) { return b[2] - a[2]; });
      cells.forEach(function (c) {
        if (!seenO[c[0]] && owners.length < LIMIT) { seenO[c[0]] = true; owners.push(c[0]); }
        if (!seenR[c[1]] && receivers.length < LIMIT) { seenR[c[1]] = true; receivers.push(c[1]); }
        counts[c[0] + ":" + c[1]] = c[2];
      });
      while (panel.firstChild) { panel.removeChild(panel.firstChild); }
      var head = make("div");
      head.appendChild(make("strong", matrix.groups[gi].name + " → " + matrix.groups[gj].name));
      head.appendChild(make("span", "  " + cells.length + " non-empty cell(s)" +
        (owners.length >= LIMIT || receivers.length >= LIMIT ? ", busiest " + LIMIT + " users shown" : ""), "muted"));
      var close = make("button", "close");
      close.style.marginLeft = "12px";
      close.addEventListener("click", function () { panel.hidden = true; });
      head.appendChild(close);
      panel.appendChild(head);
      if (cells.length) {
        var wrap = make("div", null, "scroll");
        var table = make("table", null, "matrix");
        var thead = make("thead"), tr = make("tr");
        tr.appendChild(make("th", "owner ↓ receiver →", "corner"));
        receivers.forEach(function (r) {
          var th = make("th", null, "rot");
          th.appendChild(make("span", matrix.users[r]));
          tr.appendChild(th);
        });
        thead.appendChild(tr);
        table.appendChild(thead);
        var tbody = make("tbody");
        owners.forEach(function (o) {
          var row = make("tr");
          var th = make("th", matrix.users[o]);
          th.setAttribute("scope", "row");
          row.appendChild(th);
          receivers.forEach(function (r) {
            var n = counts[o + ":" + r];
            var td = make("td", n ? n : "", n ? (o === r ? "own" : "leak") : "");
            if (n) { td.title = matrix.users[r] + " received " + n + " event(s) of " + matrix.users[o] + "'s requests"; }
            row.appendChild(td);
          });
          tbody.appendChild(row);
        });
        table.appendChild(tbody);
        wrap.appendChild(table);
        panel.appendChild(wrap);
      }
      panel.hidden = false;
    }

    Array.prototype.forEach.call(document.querySelectorAll("[data-block]"), function (el) {
      el.addEventListener("click", function (event) {
        var parts = (el.getAttribute("data-block") || "").split(",");
        var gi = parseInt(parts[0], 10), gj = parseInt(parts[1], 10);
        if (isNaN(gi) || isNaN(gj)) { return; }
        if (el.tagName === "A") { event.preventDefault(); }
        show(gi, gj);
        panel.scrollIntoView({ block: "nearest" });
      });
    });
  }

  function setupCopy() {
    var button = document.getElementById("copy-recheck");
    var source = document.getElementById("recheck-cmd");
    if (!button || !source || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent || "").then(function () {
        button.textContent = "copied";
      }, function () { button.textContent = "copy failed"; });
    });
  }

  var data = readData();
  setupFilter();
  setupDrill(data.matrix);
  setupCopy();
  window.addEventListener("hashchange", openTarget);
  openTarget();
}());
