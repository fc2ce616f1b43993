// The wording editor's live preview: as the admin types (after a pause), the draft goes to
// the API's preview (with the login's CSRF token as X-CSRF-Token) and the answer replaces
// the preview below the form. Without this file the "Preview" button does the same.
(function () {
  "use strict";
  var form = document.querySelector("form.wording-form");
  if (!form || !window.fetch) { return; }
  var box = form.querySelector("textarea[name=text]");
  var token = form.querySelector("input[name=csrf_token]").value;
  var part = function (name) { return document.querySelector("[data-preview=" + name + "]"); };
  var timer = null;
  var asked = 0;

  function show(answer) {
    part("text").textContent = answer.text;
    part("segments").textContent = answer.segments;
    part("encoding").textContent = answer.encoding;
    part("characters").textContent = answer.characters;
    var list = part("problems");
    while (list.firstChild) { list.removeChild(list.firstChild); }
    answer.problems.forEach(function (problem) {
      var item = document.createElement("li");
      item.textContent = problem;
      list.appendChild(item);
    });
    part("ok").hidden = answer.problems.length > 0;
  }

  function ask() {
    var mine = ++asked;
    fetch(form.dataset.previewUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
      body: JSON.stringify({ key: form.dataset.key, locale: form.dataset.locale, text: box.value })
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (answer) {
      if (answer && mine === asked) { show(answer); }
    }).catch(function () { /* the Preview button still works */ });
  }

  box.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 400);
  });
}());
