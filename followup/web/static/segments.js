/* The segment count of a staff text as it is typed, counted as followup/texts/segments.py
   counts it (and as Twilio bills it): GSM-7 when every character is in the GSM 03.38 basic
   set or its extension table (an extension character costs two septets), 160 septets in one
   segment and 153 a part once split, an escape pair never split; otherwise UCS-2, UTF-16
   code units (a character beyond the BMP costs two), 70 in one segment and 67 a part.

   The alphabet is not copied here: the form carries it in data attributes (as JSON)
   rendered from segments.py, so the two cannot drift apart. The count includes the emergency line the
   server adds when the text does not give the emergency number. Without JavaScript the
   form's "Check length" button asks the server for the same count. */
(function (root) {
  "use strict";

  function pack(units, single, part) {
    var total = 0, i;
    for (i = 0; i < units.length; i++) { total += units[i]; }
    if (total <= single) { return {segments: 1, characters: total}; }
    var segments = 1, used = 0;
    for (i = 0; i < units.length; i++) {
      if (used + units[i] > part) { segments += 1; used = 0; }
      used += units[i];
    }
    return {segments: segments, characters: total};
  }

  /* {encoding, segments, characters, nonGsm} of ``text`` for the given alphabet */
  function analyze(text, basic, extension) {
    var chars = Array.from(text);  // code points, as Python iterates a str
    var nonGsm = [];
    chars.forEach(function (c) {
      if (basic.indexOf(c) < 0 && extension.indexOf(c) < 0 && nonGsm.indexOf(c) < 0) {
        nonGsm.push(c);
      }
    });
    if (!nonGsm.length) {
      var septets = chars.map(function (c) { return extension.indexOf(c) >= 0 ? 2 : 1; });
      var g = pack(septets, 160, 153);
      return {encoding: "GSM-7", segments: g.segments, characters: g.characters, nonGsm: []};
    }
    var units = chars.map(function (c) { return c.codePointAt(0) > 0xFFFF ? 2 : 1; });
    var u = pack(units, 70, 67);
    return {encoding: "UCS-2", segments: u.segments, characters: u.characters, nonGsm: nonGsm};
  }

  function escaped(text) { return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

  /* the text as it will go: trimmed, plain line breaks, the emergency line unless it names
     the number (followup/desk/staff_texts.py draft) */
  function asSent(written, number, line) {
    var text = written.replace(/\r\n/g, "\n").replace(/\r/g, "\n").trim();
    if (!text) { return {body: "", added: false}; }
    var names = number && new RegExp("(?<!\\d)" + escaped(number) + "(?!\\d)").test(text);
    return names ? {body: text, added: false} : {body: text + " " + line, added: true};
  }

  root.followupSegments = {analyze: analyze, asSent: asSent};
  if (typeof module !== "undefined") { module.exports = root.followupSegments; }

  if (typeof document === "undefined") { return; }
  var form = document.querySelector("form[data-gsm-basic]");
  if (!form) { return; }
  var box = form.querySelector("textarea");
  var out = document.getElementById("segment-count");
  var d = form.dataset;
  var most = parseInt(d.maxSegments, 10);
  // JSON in the attributes: the alphabet holds a line feed, a carriage return and a form
  // feed, which HTML would otherwise rewrite
  var basic = JSON.parse(d.gsmBasic), extension = JSON.parse(d.gsmExtension);
  function show() {
    var sent = asSent(box.value, d.emergencyNumber, d.emergencyLine);
    if (!sent.body) { out.textContent = "At most " + most + " segments, the emergency line included."; return; }
    var info = analyze(sent.body, basic, extension);
    var words = info.segments + " segment(s) · " + info.encoding + " · " + info.characters + " characters";
    if (sent.added) { words += ", the emergency line included"; }
    if (info.nonGsm.length) { words += " · not GSM-7: " + info.nonGsm.join(" "); }
    if (info.segments > most) { words += " · too long: at most " + most + " segments"; }
    out.textContent = words;
  }
  box.addEventListener("input", show);
  show();
})(typeof window !== "undefined" ? window : globalThis);
