/* Proxy pages: "include secrets" in the curl command, the stateless form's two variants,
   and this tab's private key in the one-step fields. No inline scripts (CSP script-src 'self'). */
(function () {
  "use strict";
  var STORE = "lineTester.";

  // Both curl variants are already in this page; the box only chooses which one shows.
  function setupCurl() {
    var box = document.getElementById("curl-include-secrets");
    if (!box) return;
    box.closest(".js-only").hidden = false;
    var masked = document.getElementById("curl-masked-wrap");
    var full = document.getElementById("curl-full-wrap");
    function show() {
      masked.hidden = box.checked;
      full.hidden = !box.checked;
    }
    box.addEventListener("change", show);
    show();
  }

  // Stateless form: show only the fields of the chosen way to authenticate.
  function setupVariants() {
    var radios = document.querySelectorAll("input[type=radio][name=variant]");
    if (!radios.length) return;
    function show() {
      var chosen = document.querySelector("input[type=radio][name=variant]:checked");
      document.querySelectorAll("[data-variant]").forEach(function (el) {
        el.hidden = !!chosen && el.getAttribute("data-variant") !== chosen.value;
      });
    }
    radios.forEach(function (r) { r.addEventListener("change", show); });
    show();
  }

  // The key made on the keys page in this tab (sessionStorage, never sent) fills the
  // one-step field, but only while no JWT is pasted: a pasted JWT is used as it is.
  function setupKeyFill() {
    var field = document.querySelector("fieldset.one-step textarea#private_key");
    var jwt = document.getElementById("client_assertion");
    var saved = null;
    try { saved = sessionStorage.getItem(STORE + "privateJwk"); } catch (e) { saved = null; }
    if (field && saved && !field.value && !(jwt && jwt.value)) field.value = saved;
  }

  function b64urlJson(part) {
    var b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return JSON.parse(new TextDecoder().decode(bytes));
  }
  // Whole units in the page's language ("1 h 59 min", "1時間59分"), as the server writes them (app.js).
  function duration(seconds) {
    var note = document.getElementById("pasted-jwt-note"), units = null;
    try { units = JSON.parse(note.getAttribute("data-units")); } catch (e) { units = null; }
    if (units && window.LineTester && window.LineTester.duration) return window.LineTester.duration(seconds, units);
    return seconds + " s";
  }
  // Sentences in one note: a space after Latin punctuation, none after Japanese (display.join_sentences).
  function joinSentences(a, b) { return !a ? b : !b ? a : /[。！？）」]$/.test(a) ? a + b : a + " " + b; }
  var T = {};
  try { T = JSON.parse(document.getElementById("i18n").textContent); } catch (e) { T = {}; }

  // A pasted JWT is sent as it is: say so, show the token_exp it carries, and set the one-step
  // fields aside (they would be ignored), rather than showing a lifetime that does not apply.
  function setupPastedJwt() {
    var jwt = document.getElementById("client_assertion");
    var oneStep = document.querySelector("fieldset.one-step");
    var note = document.getElementById("pasted-jwt-note");
    if (!jwt || !oneStep || !note) return;
    function update() {
      var text = jwt.value.replace(/\s+/g, "");
      if (!text) { oneStep.disabled = false; note.hidden = true; return; }
      oneStep.disabled = true;
      var parts = text.split("."), message;
      try {
        var payload = b64urlJson(parts[1] || "");
        var te = Number(payload.token_exp);
        message = isFinite(te) && te > 0 && payload.token_exp !== undefined
          ? (T.jwt_pasted || "").replace("%(time)s", duration(te)).replace("%(seconds)s", te.toLocaleString(T.lang || undefined))
          : T.jwt_pasted_no_exp;
        if (payload.exp !== undefined && Number(payload.exp) * 1000 < Date.now()) {
          message = joinSentences(message, (T.jwt_expired || "").replace("%(time)s", duration(Math.round(Date.now() / 1000 - Number(payload.exp)))));
        }
      } catch (e) { message = T.jwt_unreadable; }
      note.textContent = message || "";
      note.hidden = false;
    }
    jwt.addEventListener("input", update);
    update();
  }

  // "Inspect" beside a JWT or token field: the inspector's answer for what is pasted, posted (never in a
  // URL) and shown in place by static/flow.js; Back returns to this form as it was.
  function setupInspectButtons() {
    ["client_assertion", "access_token"].forEach(function (id) {
      var field = document.getElementById(id);
      if (!field || field.tagName !== "TEXTAREA" || field.parentNode.querySelector("button.inspect-this")) return;
      var csrf = document.querySelector('input[name="csrf_token"]');
      var button = document.createElement("button");
      button.type = "button";
      button.className = "inspect-this";
      button.textContent = T.inspect || "Inspect";
      button.addEventListener("click", function () {
        var form = document.createElement("form");
        form.method = "post";
        form.action = "/inspect";
        form.hidden = true;
        var target = document.querySelector('input[name="target"]:checked');
        [["csrf_token", csrf ? csrf.value : ""], ["text", field.value], ["target", target ? target.value : "line"]]
          .forEach(function (pair) {
            var input = document.createElement("input");
            input.type = "hidden"; input.name = pair[0]; input.value = pair[1];
            form.appendChild(input);
          });
        document.getElementById("main").appendChild(form);
        if (form.requestSubmit) form.requestSubmit(); else form.submit();
      });
      var toggle = field.parentNode.querySelector("button.toggle-secret");
      field.parentNode.insertBefore(button, toggle ? toggle.nextSibling : field.nextSibling);
    });
  }

  function init() {
    setupInspectButtons();
    setupCurl();
    setupVariants();
    setupKeyFill();
    setupPastedJwt();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();  // loaded by static/flow.js after an in-place answer
  document.addEventListener("linetester:rendered", init);
})();
