// Small behaviours the markup can't express. The portal works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  function focusIn(el) {
    if (!el || !el.querySelector) return;
    var focus = el.matches("[data-autofocus]") ? el : el.querySelector("[data-autofocus]");
    if (focus) focus.focus();
  }
  // After HTMX swaps in a confirmation or an error, move focus to it so that keyboard and
  // screen reader users land where the page changed. Confirmations often arrive out of band
  // (into #alerts), which HTMX reports with its own event.
  // A swap that replaces the focused control (a section tab, a page link) would drop a
  // keyboard user back at the top of the page: remember it and focus its successor.
  // When the successor is gone (Next on the last page), the first control of the same
  // navigation (Previous) takes the focus instead.
  var refocus = [];
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var el = document.activeElement, target = evt.detail && evt.detail.target;
    refocus = [];
    if (!el || el === document.body || !target || !target.contains(el)) return;
    if (el.id) refocus.push("#" + CSS.escape(el.id));
    if (el.getAttribute("data-testid")) refocus.push('[data-testid="' + CSS.escape(el.getAttribute("data-testid")) + '"]');
    var nav = el.closest("nav[aria-label]");
    if (nav) refocus.push('nav[aria-label="' + CSS.escape(nav.getAttribute("aria-label")) + '"] a');
  });
  document.addEventListener("htmx:afterSettle", function (evt) {
    focusIn(evt.detail && evt.detail.elt);
    var lost = !document.activeElement || document.activeElement === document.body;
    for (var i = 0; lost && i < refocus.length; i++) {
      var again = document.querySelector(refocus[i]);
      if (again) {
        again.focus();
        lost = false;
      }
    }
    refocus = [];
  });
  document.addEventListener("htmx:oobAfterSwap", function (evt) {
    focusIn(evt.target);
  });
  // On a page that comes back with errors, start at the first field to fix (its message is
  // tied to it with aria-describedby); after a redirect, at the confirmation.
  document.addEventListener("DOMContentLoaded", function () {
    if (document.activeElement && document.activeElement !== document.body) return;
    var target = document.querySelector("main form [aria-invalid=true]") ||
      document.querySelector("main [data-autofocus]");
    if (target) target.focus();
  });
  // While HTMX replaces a part of the page, tell assistive technology it is busy: the
  // spinners are only for the eyes.
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var target = evt.detail && evt.detail.target;
    if (target && target.setAttribute) target.setAttribute("aria-busy", "true");
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    var target = evt.detail && evt.detail.target;
    if (target && target.removeAttribute) target.removeAttribute("aria-busy");
  });
  // Back and Forward restore a page from HTMX's history snapshot, which holds the HTML but
  // not what was typed: put the search form's fields back in step with the URL the list
  // was loaded from.
  document.addEventListener("htmx:historyRestore", function () {
    var params = new URLSearchParams(location.search);
    document.querySelectorAll("form[role=search] [name]").forEach(function (el) {
      if (params.has(el.name)) {
        el.value = params.get(el.name);
      } else if (el.type === "search" || el.type === "text") {
        el.value = "";
      }
    });
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

// Export menu (All Contacts): a download gives the page no event, so each export link gets
// a random token; the server answers with a short-lived cookie export_ready=<token>, and
// while it has not come the status line says the export is being prepared. Without this
// script the links are plain downloads.
(function () {
  "use strict";
  var pollMs = 300, giveUpMs = 5 * 60 * 1000;
  function cookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? m[1] : "";
  }
  function token() {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  document.addEventListener("click", function (evt) {
    var link = evt.target.closest ? evt.target.closest("a[data-export]") : null;
    if (!link) return;
    var menu = link.closest("details.menu");
    var status = link.closest(".export-menu") && link.closest(".export-menu").querySelector(".export-status");
    var text = status && status.querySelector(".export-status-text");
    var t = token();
    var url = new URL(link.href, location.href);
    url.searchParams.set("ready", t);
    link.href = url.pathname + url.search; // the navigation that follows the click uses it
    if (menu) menu.removeAttribute("open");
    if (!status || !text) return;
    status.classList.add("busy");
    text.textContent = "Preparing your export…";
    var started = Date.now();
    var timer = setInterval(function () {
      var done = cookie("export_ready") === t;
      if (!done && Date.now() - started < giveUpMs) return;
      clearInterval(timer);
      status.classList.remove("busy");
      text.textContent = done ? "Your download has started." : "";
      if (done) setTimeout(function () { text.textContent = ""; }, 5000);
    }, pollMs);
  });
  // The bar of All Contacts (SPEC 3.8): without this it is a plain form of checkboxes.
  // With it, the header checkbox ticks the page, and the bar says how many are selected
  // (it is a live region) and shows its buttons only once some are.
  function updateBulkBar(form) {
    var bar = form.querySelector("[data-bulk-bar]");
    var count = form.querySelector("[data-bulk-count]");
    if (!bar || !count) return;
    var rows = form.querySelectorAll("input[name=id]");
    var ticked = form.querySelectorAll("input[name=id]:checked").length;
    var all = form.querySelector("[data-select-all]");
    var page = form.querySelector("[data-select-page]");
    if (page) {
      page.hidden = false;
      page.checked = rows.length > 0 && ticked === rows.length;
      page.indeterminate = ticked > 0 && ticked < rows.length;
    }
    // With nothing selected the bar keeps the hint the page came with.
    if (!count.hasAttribute("data-hint")) count.setAttribute("data-hint", count.textContent);
    var text = count.getAttribute("data-hint");
    if (all && all.checked) {
      text = "All " + all.getAttribute("data-count") + " matching contacts selected";
    } else if (ticked > 0) {
      text = ticked + " selected";
    }
    if (count.textContent !== text) count.textContent = text;
    bar.classList.toggle("is-empty", ticked === 0 && !(all && all.checked));
  }
  function bulkForms(root) {
    root.querySelectorAll("form[data-testid=bulk-form]").forEach(updateBulkBar);
  }
  document.addEventListener("change", function (evt) {
    var el = evt.target, form = el.closest && el.closest("form[data-testid=bulk-form]");
    if (!form) return;
    var all = form.querySelector("[data-select-all]");
    if (el.matches("[data-select-page]")) {
      form.querySelectorAll("input[name=id]").forEach(function (box) { box.checked = el.checked; });
      if (all && !el.checked) all.checked = false;
    } else if (el.matches("[data-select-all]")) {
      if (el.checked) form.querySelectorAll("input[name=id]").forEach(function (box) { box.checked = true; });
    } else if (el.name === "id" && !el.checked && all) {
      all.checked = false;
    }
    updateBulkBar(form);
  });
  document.addEventListener("DOMContentLoaded", function () { bulkForms(document); });
  document.addEventListener("htmx:afterSettle", function () { bulkForms(document); });
})();

// Import contacts: a file over the limit is refused before it is sent, in the server's own
// words (the form carries them); without this script the server says so after the upload.
(function () {
  "use strict";
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (!form.matches || !form.matches("form[data-max-bytes]")) return;
    var input = form.querySelector("input[type=file]");
    var file = input && input.files && input.files[0];
    if (!file || file.size <= Number(form.getAttribute("data-max-bytes"))) return;
    evt.preventDefault();
    var error = document.getElementById("import-file-error");
    if (!error) {
      error = document.createElement("p");
      error.id = "import-file-error";
      error.className = "field-error";
      input.parentNode.appendChild(error);
      input.setAttribute("aria-describedby", (input.getAttribute("aria-describedby") || "") + " import-file-error");
    }
    error.textContent = form.getAttribute("data-too-large");
    input.setAttribute("aria-invalid", "true");
    input.focus();
  });
})();
