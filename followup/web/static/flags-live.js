// The flags lists keep themselves current without reloading the page. Every few seconds the
// page asks for the ids of the open flags and of those in hand; when they differ from the
// ones shown, it fetches the lists again and swaps in what changed: new flags are added where
// the server puts them, flags that left a list are taken out of it, and a flag that has not
// changed stays the same element, so a note being typed and the keyboard focus survive.
// Screen readers hear "1 new flag" (a polite live region). Neither request keeps the login
// alive; once it has ended, the page reloads to the login form. Without JavaScript the page
// refreshes itself (<noscript> meta refresh).
(function () {
  "use strict";
  var lists = document.getElementById("flag-lists");
  if (!lists || !lists.dataset.ids) { return; }
  var status = document.getElementById("live-status");
  var seconds = Number(lists.dataset.pollSeconds) || 5;
  var unreachable = "Cannot reach the server: this list may be out of date.";

  function ids(selector) {
    return Array.prototype.map.call(document.querySelectorAll(selector), function (a) {
      return a.id;
    });
  }

  function childWithId(parent, id) {
    for (var c = parent.firstElementChild; c; c = c.nextElementSibling) {
      if (c.id === id) { return c; }
    }
    return null;
  }

  // Make ``old``'s children those of ``fresh``, keeping every element that is unchanged:
  // children are matched by id; a section is synced the same way, one level down; a flag is
  // kept while its data-state is the same; anything else is taken afresh.
  function sync(old, fresh) {
    Array.prototype.slice.call(old.children).forEach(function (n) {
      if (!n.id || !childWithId(fresh, n.id)) { n.remove(); }
    });
    var at = old.firstElementChild;
    Array.prototype.slice.call(fresh.children).forEach(function (n) {
      var kept = n.id ? childWithId(old, n.id) : null;
      if (kept && kept.tagName === "SECTION") {
        sync(kept, n);
      } else if (!(kept && kept.matches("article.flag") && kept.dataset.state === n.dataset.state)) {
        var copy = document.importNode(n, true);
        if (kept) { old.replaceChild(copy, kept); } else { old.insertBefore(copy, at); }
        kept = copy;
      }
      at = kept.nextElementSibling;
    });
  }

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("flag-lists");
    if (!fresh) { throw new Error("no lists in the answer"); }
    var before = ids("#open-flags article.flag");
    sync(lists, fresh);
    var after = ids("#open-flags article.flag");
    var added = after.filter(function (id) { return before.indexOf(id) < 0; }).length;
    var gone = before.filter(function (id) { return after.indexOf(id) < 0; }).length;
    var said = [];
    if (added) { said.push(plural(added, "new flag")); }
    if (gone) { said.push(plural(gone, "flag") + " no longer open"); }
    status.textContent = said.join(", ");
  }

  function answer(r) {
    if (r.status === 401) { location.reload(); throw new Error("logged out"); }
    if (!r.ok) { throw new Error("HTTP " + r.status); }
    return r;
  }

  function same(shown, wanted) {
    return shown.slice().sort().join() === wanted.map(function (id) {
      return "flag-" + id;
    }).sort().join();
  }

  function check() {
    fetch(lists.dataset.ids, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(answer)
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (status.textContent === unreachable) { status.textContent = ""; }
        if (same(ids("#open-flags article.flag"), data.open) &&
            same(ids("#in-hand-flags article.flag"), data.in_hand)) { return null; }
        return fetch(lists.dataset.list, {credentials: "same-origin"})
          .then(answer)
          .then(function (r) { return r.text(); })
          .then(swap);
      })
      .catch(function (e) {
        if (e.message !== "logged out") { status.textContent = unreachable; }
      })
      .then(function () { setTimeout(check, seconds * 1000); });
  }

  setTimeout(check, seconds * 1000);
})();
