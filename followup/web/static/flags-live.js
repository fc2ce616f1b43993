// The open flags list keeps itself current without reloading the page. Every few seconds it
// asks for the open flags' ids; when they differ from the ones shown, it fetches the list
// again and swaps in what changed: new flags are added where the server puts them, flags no
// longer open are taken away, and the flags already shown stay the same elements, so a note
// being typed and the keyboard focus survive. Screen readers hear "1 new flag" (a polite
// live region). Neither request keeps the login alive; once it has ended, the page reloads
// to the login form. Without JavaScript, the page refreshes itself (<noscript> meta refresh).
(function () {
  "use strict";
  var list = document.getElementById("open-flags");
  if (!list || !list.dataset.ids) { return; }
  var status = document.getElementById("live-status");
  var seconds = Number(list.dataset.pollSeconds) || 5;
  var unreachable = "Cannot reach the server: this list may be out of date.";

  function shownIds() {
    return Array.prototype.map.call(list.querySelectorAll("article.flag"), function (a) {
      return a.id;
    });
  }

  function answer(r) {
    if (r.status === 401) { location.reload(); throw new Error("logged out"); }
    if (!r.ok) { throw new Error("HTTP " + r.status); }
    return r;
  }

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("open-flags");
    if (!fresh) { throw new Error("no list in the answer"); }
    var wanted = {};
    Array.prototype.forEach.call(fresh.children, function (n) { if (n.id) { wanted[n.id] = true; } });
    var removed = 0;
    Array.prototype.slice.call(list.children).forEach(function (n) {
      if (!n.id || !wanted[n.id]) { if (n.id) { removed += 1; } n.remove(); }
    });
    var added = 0;
    var at = list.firstElementChild;
    Array.prototype.slice.call(fresh.children).forEach(function (n) {
      var kept = n.id ? document.getElementById(n.id) : null;
      if (kept && kept.parentNode === list) { at = kept.nextElementSibling; return; }
      list.insertBefore(document.importNode(n, true), at);
      if (n.id) { added += 1; }
    });
    var said = [];
    if (added) { said.push(plural(added, "new flag")); }
    if (removed) { said.push(plural(removed, "flag") + " no longer open"); }
    status.textContent = said.join(", ");
  }

  function check() {
    fetch(list.dataset.ids, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(answer)
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (status.textContent === unreachable) { status.textContent = ""; }
        var shown = shownIds().sort().join();
        var open = data.open.map(function (id) { return "flag-" + id; }).sort().join();
        if (shown === open) { return null; }
        return fetch(list.dataset.list, {credentials: "same-origin"})
          .then(answer)
          .then(function (r) { return r.text(); })
          .then(swap);
      })
      .catch(function (e) {
        if (e.message !== "logged out") {
          status.textContent = unreachable;
        }
      })
      .then(function () { setTimeout(check, seconds * 1000); });
  }

  setTimeout(check, seconds * 1000);
})();
