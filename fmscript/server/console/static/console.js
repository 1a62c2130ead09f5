// fmscript Admin Console: the little script the pages need. No data arrives as code: live parts are HTML
// fragments the server rendered (and escaped), fetched with the session cookie and swapped in.
"use strict";
(function () {
  function poll(el) {
    var url = el.getAttribute("data-live");
    var every = parseInt(el.getAttribute("data-poll"), 10) || 1500;
    function finished() { return el.querySelector("[data-final]") !== null; }
    function tick() {
      if (finished()) { return; }
      fetch(url, {credentials: "same-origin", cache: "no-store", headers: {"Accept": "text/html"}})
        .then(function (r) {
          if (r.status === 401) { window.location.assign("/console/login"); return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) {
          if (html !== null && html !== undefined) { el.innerHTML = html; }
          window.setTimeout(tick, every);
        })
        .catch(function () { window.setTimeout(tick, every * 2); });
    }
    window.setTimeout(tick, every);
  }

  function sameName(input) {
    var existing = [];
    try { existing = JSON.parse(input.getAttribute("data-existing") || "[]"); } catch (e) { existing = []; }
    var warning = document.getElementById("same-name-warning");
    if (!warning) { return; }
    var template = warning.getAttribute("data-template") || "";
    function check() {
      var root = input.value.trim().replace(/\s+/g, "-");
      if (!root) { warning.classList.add("hidden"); return; }
      var full = root.indexOf("fm-mlx-") === 0 ? root : "fm-mlx-" + root;
      if (existing.indexOf(full) >= 0) {
        warning.textContent = template.replace("{name}", full);
        warning.classList.remove("hidden");
      } else if (!document.getElementById("replace")) {
        warning.classList.add("hidden");
      }
    }
    input.addEventListener("input", check);
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-live]"), poll);
    var name = document.getElementById("fine_tuned_model_name");
    if (name) { sameName(name); }
    Array.prototype.forEach.call(document.querySelectorAll("select[data-autosubmit]"), function (s) {
      s.addEventListener("change", function () { s.form.submit(); });
    });
  });
})();
