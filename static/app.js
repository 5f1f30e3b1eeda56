// Zoe's only script besides htmx. Pages work without it; it adds live
// values beside range sliders, times in the viewer's zone, and the CSRF
// token on every htmx request.
(function () {
  "use strict";

  function formatMiB(v) {
    if (v >= 1024) {
      var g = v / 1024;
      return (Math.round(g * 100) / 100) + " GiB";
    }
    return v + " MiB";
  }

  function formatCores(milli) {
    var c = Math.round(milli) / 1000;
    return c + (c === 1 ? " core" : " cores");
  }

  // showValue writes a slider's value, in its unit, into its <output>.
  function showValue(el) {
    var out = document.getElementById(el.dataset.output);
    if (!out) { return; }
    var v = parseFloat(el.value);
    switch (el.dataset.unit) {
      case "MiB": out.textContent = formatMiB(v); break;
      case "millicores": out.textContent = formatCores(v); break;
      default: out.textContent = String(v) + (el.dataset.unit ? " " + el.dataset.unit : "");
    }
  }

  document.addEventListener("input", function (e) {
    var el = e.target;
    if (el.matches && el.matches("input[type=range][data-output]")) {
      showValue(el);
    }
  });

  var rtf = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }) : null;
  var dtf = window.Intl ? new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }) : null;

  function relative(d) {
    if (!rtf) { return ""; }
    var s = (d.getTime() - Date.now()) / 1000;
    var units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(s) >= units[i][1] || units[i][0] === "second") {
        return rtf.format(Math.round(s / units[i][1]), units[i][0]);
      }
    }
    return "";
  }

  // localTimes rewrites the UTC times the server wrote in the viewer's zone,
  // with how long ago (or how soon) they are.
  function localTimes(root) {
    if (!dtf) { return; }
    var els = root.querySelectorAll("time[datetime]");
    for (var i = 0; i < els.length; i++) {
      var d = new Date(els[i].getAttribute("datetime"));
      if (isNaN(d.getTime())) { continue; }
      var rel = relative(d);
      els[i].textContent = dtf.format(d) + (rel ? " (" + rel + ")" : "");
    }
  }

  function ready(root) {
    localTimes(root);
    var ranges = root.querySelectorAll("input[type=range][data-output]");
    for (var i = 0; i < ranges.length; i++) { showValue(ranges[i]); }
  }

  document.addEventListener("DOMContentLoaded", function () { ready(document); });
  document.addEventListener("htmx:afterSettle", function () { localTimes(document); });
  document.addEventListener("htmx:configRequest", function (e) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { e.detail.headers["X-CSRF-Token"] = meta.content; }
  });
})();
