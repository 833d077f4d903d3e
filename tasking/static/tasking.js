// SCTaC tasking: small progressive enhancements. Every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // Move focus to an error summary so screen readers announce the problems first.
  var summary = document.querySelector("[data-module='error-summary']");
  if (summary) {
    summary.focus();
  }
  // Forms that submit themselves when a filter changes (a button remains for no-JS use).
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    form.querySelectorAll("select").forEach(function (select) {
      select.addEventListener("change", function () { form.submit(); });
    });
  });
});

// The request form's live score preview: the same panel the "Preview score" button renders.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("request-form");
  var panel = document.getElementById("score-preview");
  if (!form || !panel || !window.fetch) {
    return;
  }
  var timer = null;
  var token = form.querySelector("input[name='csrf_token']");
  function refresh() {
    var body = new FormData(form);
    fetch(form.getAttribute("data-preview-url"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": token ? token.value : "" }
    }).then(function (response) {
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (html !== null) {
        panel.innerHTML = html;
      }
    }).catch(function () { /* the Preview button still works */ });
  }
  form.addEventListener("change", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 200);
  });
});
