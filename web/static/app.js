// Keyboard shortcuts for review (no inline scripts: the CSP allows only this file).
(function () {
  "use strict";
  function typing(e) {
    var t = e.target;
    return t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA" || t.isContentEditable);
  }
  function go(href) { if (href) { window.location.href = href; } }

  document.addEventListener("DOMContentLoaded", function () {
    var rows = Array.prototype.slice.call(document.querySelectorAll("tr.row[data-href]"));
    var sel = -1;
    function select(i) {
      if (!rows.length) { return; }
      if (sel >= 0) { rows[sel].classList.remove("selected"); }
      sel = Math.max(0, Math.min(rows.length - 1, i));
      rows[sel].classList.add("selected");
      rows[sel].scrollIntoView({ block: "nearest" });
    }
    var caseEl = document.querySelector(".case[data-case]");

    document.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey || typing(e)) { return; }
      var k = e.key.toLowerCase();
      if (rows.length) {
        if (k === "j") { select(sel + 1); e.preventDefault(); }
        else if (k === "k") { select(sel - 1); e.preventDefault(); }
        else if (k === "enter" && sel >= 0) { go(rows[sel].getAttribute("data-href")); }
        return;
      }
      if (!caseEl) { return; }
      if (k === "c") {
        var form = document.getElementById("confirm-form");
        if (form) { e.preventDefault(); form.submit(); }
      } else if (k === "r") {
        var reason = document.getElementById("reason");
        if (reason) { e.preventDefault(); reason.focus(); }
      } else if (k === "p") {
        var plate = document.getElementById("plate-input");
        if (plate) { e.preventDefault(); plate.focus(); }
      } else if (k === "n") { go(caseEl.getAttribute("data-next") && "/cases/" + caseEl.getAttribute("data-next")); }
      else if (k === "b") { go(caseEl.getAttribute("data-prev") && "/cases/" + caseEl.getAttribute("data-prev")); }
      else if (k === "q") { go("/review"); }
    });
  });
})();
