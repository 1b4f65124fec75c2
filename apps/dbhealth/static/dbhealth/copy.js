// Copy buttons beside the SQL previews of the Database pages (human.code_block). A static
// file, not inline script, for the CSP; without script the buttons stay hidden.
(function () {
  "use strict";

  function flash(button, text) {
    button.textContent = text;
    window.setTimeout(function () { button.textContent = "Copy"; }, 1500);
  }

  function fallback(button, text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "dbh-offscreen";
    document.body.appendChild(area);
    area.select();
    try {
      flash(button, document.execCommand("copy") ? "Copied" : "Press Ctrl+C");
    } catch (e) {
      flash(button, "Press Ctrl+C");
    }
    document.body.removeChild(area);
  }

  function copy(button) {
    var pre = button.parentElement.querySelector("pre");
    var text = pre ? pre.textContent : "";
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { flash(button, "Copied"); },
        function () { fallback(button, text); }
      );
    } else {
      fallback(button, text);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button.dbh-copy").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { copy(button); });
    });
  });
})();
