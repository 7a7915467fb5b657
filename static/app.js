// Small behaviours the markup can't express. The portal works without this file.
(function () {
  "use strict";
  // After HTMX swaps in a confirmation or an error, move focus to it so that keyboard and
  // screen reader users land where the page changed.
  document.addEventListener("htmx:afterSettle", function (evt) {
    var target = evt.detail && evt.detail.elt;
    if (!target || !target.querySelector) return;
    var focus = target.querySelector("[data-autofocus]");
    if (focus) focus.focus();
  });
  // Close an open <details> menu when the user clicks elsewhere or presses Escape.
  function closeMenus(except) {
    document.querySelectorAll("details.menu[open]").forEach(function (d) {
      if (d !== except) d.removeAttribute("open");
    });
  }
  document.addEventListener("click", function (evt) {
    closeMenus(evt.target.closest ? evt.target.closest("details.menu") : null);
  });
  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Escape") return;
    var open = document.querySelector("details.menu[open]");
    if (open) {
      open.removeAttribute("open");
      var summary = open.querySelector("summary");
      if (summary) summary.focus();
    }
  });
})();
