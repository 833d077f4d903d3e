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

// Case page: show only the fields that apply to the choice made (data-show-when="name=value").
// Without this script every field shows, each labelled with when it applies. Hidden fields
// are disabled so they are not sent; a block holding an error message always shows.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-show-when]").forEach(function (block) {
    var rule = block.getAttribute("data-show-when").split("=");
    var form = block.closest("form");
    if (!form || rule.length !== 2) {
      return;
    }
    var selector = "input[type='radio'][name='" + rule[0] + "']";
    function update() {
      var chosen = form.querySelector(selector + ":checked");
      var hide = (!chosen || chosen.value !== rule[1]) && !block.querySelector(".error-message");
      block.hidden = hide;
      block.querySelectorAll("input, select, textarea").forEach(function (field) {
        field.disabled = hide;
      });
    }
    form.querySelectorAll(selector).forEach(function (radio) {
      radio.addEventListener("change", update);
    });
    update();
  });
});

// Board: counts of a large board are made in the background; fetch the page again
// (up to five times, two seconds apart) and put the counts and the matrix in place.
document.addEventListener("DOMContentLoaded", function () {
  if (!document.querySelector("[data-counts-pending]") || !window.fetch || !window.DOMParser) {
    return;
  }
  var tries = 0;
  function refresh() {
    tries += 1;
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        if (fresh.querySelector("[data-counts-pending]")) {
          if (tries < 5) { window.setTimeout(refresh, 2000); }
          return;
        }
        [".band-counts", ".board-matrix"].forEach(function (selector) {
          var now = document.querySelector(selector);
          var next = fresh.querySelector(selector);
          if (now && next) { now.replaceWith(document.importNode(next, true)); }
        });
        var summary = document.querySelector(".board-head__summary");
        var nextSummary = fresh.querySelector(".board-head__summary");
        if (summary && nextSummary) { summary.textContent = nextSummary.textContent; }
      })
      .catch(function () { /* the reload message stays */ });
  }
  window.setTimeout(refresh, 2000);
});

// Pages following work done by the workers (a scoring run, a what-if) reload themselves
// while it is in progress; each also has a plain refresh link.
document.addEventListener("DOMContentLoaded", function () {
  var poll = document.querySelector("[data-poll]");
  if (!poll) {
    return;
  }
  var seconds = Math.max(2, parseInt(poll.getAttribute("data-poll"), 10) || 5);
  window.setTimeout(function () {
    if (!document.hidden) {
      window.location.reload();
    }
  }, seconds * 1000);
});
