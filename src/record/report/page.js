window.onerror = function (message, source, line, column) {
  var box = document.getElementById("script-errors");
  if (box) {
    box.hidden = false;
    box.textContent += message + " (line " + line + ":" + column + ")\n";
  }
  return false;
};
(function () {
  var text = document.getElementById("filter-text");
  var layer = document.getElementById("filter-layer");
  var conn = document.getElementById("filter-conn");
  var count = document.getElementById("filter-count");
  var table = document.getElementById("events");
  if (!text || !layer || !count || !table) {
    return;
  }
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var hay = rows.map(function (r) { return r.textContent.toLowerCase(); });
  function apply() {
    var q = text.value.trim().toLowerCase();
    var l = layer.value;
    var c = conn ? conn.value : "";
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      var keep = (!l || r.getAttribute("data-layer") === l) &&
        (!c || r.getAttribute("data-conn") === c) &&
        (!q || hay[i].indexOf(q) !== -1);
      r.hidden = !keep;
      if (keep) { shown++; }
    }
    count.textContent = shown === rows.length ? rows.length + " events" : shown + " of " + rows.length + " events";
  }
  function reveal() {
    var target = location.hash ? document.getElementById(location.hash.slice(1)) : null;
    if (target && target.hidden) {
      text.value = "";
      layer.value = "";
      if (conn) { conn.value = ""; }
      apply();
      target.scrollIntoView();
    }
  }
  text.addEventListener("input", apply);
  layer.addEventListener("change", apply);
  if (conn) { conn.addEventListener("change", apply); }
  table.addEventListener("click", function (ev) {
    var cell = ev.target.closest ? ev.target.closest("td.d") : null;
    if (cell) { cell.classList.toggle("open"); }
  });
  window.addEventListener("hashchange", reveal);
  apply();
})();
document.body.dataset.scripts = "ok";
