/* LINE token tester: small progressive enhancements. No inline scripts (CSP script-src 'self'). */
(function () {
  "use strict";
  var T = {};
  try { T = JSON.parse(document.getElementById("i18n").textContent); } catch (e) { T = {}; }
  function t(key, fallback) { return T[key] || fallback || key; }
  var STORE = "lineTester.";
  window.LineTester = { t: t, store: STORE, duration: countdownText };
  // Scripts run: CSS masks secrets only where a Show button can reveal them (see app.css).
  document.documentElement.classList.add("js");

  // Buttons that need scripts (Copy, Show…) start hidden, so a page without JavaScript offers none that do nothing.
  function showScriptButtons() {
    document.querySelectorAll(".needs-js[hidden]").forEach(function (el) { el.hidden = false; });
  }

  /* Keyboard and screen-reader users land on what an action produced: the list of what to fix, or the
     result's heading (focusable with tabindex=-1), scrolled into view. */
  function focusResult(target) {
    if (!target) return;
    var heading = target.matches(".error-summary, #upstream-error") ? target :
      target.querySelector("h2, h1, h3") || target;
    if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
    target.scrollIntoView({ block: "start" });
  }
  window.LineTester.focusResult = focusResult;

  function b64urlFromBytes(bytes) {
    var s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  window.LineTester.b64url = b64urlFromBytes;

  // Copy buttons: data-copy names the element whose text is copied.
  function copyText(text, button) {
    function done(ok) {
      var old = button.getAttribute("data-label") || button.textContent;
      button.setAttribute("data-label", old);
      button.textContent = ok ? t("copied") : t("copy_failed");
      setTimeout(function () { button.textContent = old; }, 1500);
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
    } else { done(false); }
  }
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("button.copy");
    if (btn) {
      var el = document.getElementById(btn.getAttribute("data-copy"));
      if (el) copyText(el.value !== undefined && el.tagName !== "PRE" ? el.value : el.textContent, btn);
      return;
    }
    var tog = ev.target.closest && ev.target.closest("button.toggle-secret");
    if (tog) {
      var field = document.getElementById(tog.getAttribute("data-target"));
      if (!field) return;
      var reveal = tog.getAttribute("aria-pressed") !== "true";
      if (field.tagName === "INPUT") field.type = reveal ? "text" : "password";
      else field.classList.toggle("revealed", reveal);
      tog.setAttribute("aria-pressed", reveal ? "true" : "false");
      tog.textContent = reveal ? t("hide") : t("show");
    }
  });

  // Times: show epoch seconds as local date/time and "in 29 days".
  function relative(seconds) {
    var abs = Math.abs(seconds), unit, n;
    if (abs >= 86400) { n = Math.round(abs / 86400); unit = "day"; }
    else if (abs >= 3600) { n = Math.round(abs / 3600); unit = "hour"; }
    else if (abs >= 60) { n = Math.round(abs / 60); unit = "minute"; }
    else { n = abs; unit = "second"; }
    try {
      return new Intl.RelativeTimeFormat(T.lang || undefined, { numeric: "always" }).format(seconds < 0 ? -n : n, unit);
    } catch (e) { return (seconds < 0 ? "-" : "+") + n + " " + unit; }
  }
  function renderTimes() {
    var now = Date.now() / 1000;
    document.querySelectorAll("time[data-epoch]").forEach(function (el) {
      var d = new Date(Number(el.getAttribute("data-epoch")) * 1000);
      if (!isNaN(d)) el.textContent = d.toLocaleString(T.lang || undefined);
    });
    document.querySelectorAll("[data-relative]").forEach(function (el) {
      var v = Number(el.getAttribute("data-relative"));
      if (!isNaN(v)) el.textContent = t("relative", "({relative})").replace("{relative}", relative(Math.round(v - now)));
    });
  }

  // Key pair page: generate in the browser with WebCrypto; the private key stays here.
  function setupKeygen() {
    var section = document.getElementById("browser-keygen");
    if (!section || section.ltBound) return;  // once per page, again after an in-place answer
    if (!(window.crypto && crypto.subtle)) { return; }
    section.ltBound = true;  // a property: a restored snapshot's copy is bound again
    section.hidden = false;
    var button = document.getElementById("generate-in-browser");
    var status = document.getElementById("keygen-status");
    button.addEventListener("click", function () {
      button.disabled = true;
      status.textContent = t("generating");
      crypto.subtle.generateKey(
        { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
        true, ["sign", "verify"]
      ).then(function (pair) {
        return crypto.subtle.exportKey("jwk", pair.privateKey);
      }).then(function (j) {
        var priv = { kty: "RSA", alg: "RS256", use: "sig", n: j.n, e: j.e, d: j.d, p: j.p, q: j.q, dp: j.dp, dq: j.dq, qi: j.qi };
        var pub = { kty: "RSA", e: j.e, n: j.n, alg: "RS256", use: "sig" };
        document.getElementById("browser-private").textContent = JSON.stringify(priv, null, 2);
        document.getElementById("browser-public").textContent = JSON.stringify(pub, null, 2);
        document.getElementById("browser-keys").hidden = false;
        focusResult(document.getElementById("browser-keys"));
        // Kept for this tab only, so the next steps can fill themselves in. Never sent anywhere.
        sessionStorage.setItem(STORE + "privateJwk", JSON.stringify(priv));
        sessionStorage.setItem(STORE + "publicJwk", JSON.stringify(pub));
        status.textContent = t("generated");
        button.disabled = false;
        if (window.LineTester.keepHere) window.LineTester.keepHere();  // reload, Back and Forward keep the pair
      }).catch(function (err) {
        status.textContent = t("no_webcrypto") + " (" + err + ")";
        button.disabled = false;
      });
    });
  }

  // Server-made keys: remember them in this tab when the user follows a "next" link.
  function setupCarry() {
    document.querySelectorAll("[data-public-from],[data-private-from]").forEach(function (a) {
      a.addEventListener("click", function () {
        var pub = a.getAttribute("data-public-from"), priv = a.getAttribute("data-private-from");
        if (pub) sessionStorage.setItem(STORE + "publicJwk", document.getElementById(pub).textContent);
        if (priv) sessionStorage.setItem(STORE + "privateJwk", document.getElementById(priv).textContent);
        var pubAlso = document.getElementById("server-public");
        if (pubAlso) sessionStorage.setItem(STORE + "publicJwk", pubAlso.textContent);
        var privAlso = document.getElementById("server-private");
        if (privAlso) sessionStorage.setItem(STORE + "privateJwk", privAlso.textContent);
      });
    });
    // Pages with a private key field fill it from this tab's key, if the field is empty.
    var field = document.querySelector("textarea#private_key[data-fill-from-session], form#jwt-form textarea#private_key");
    var saved = sessionStorage.getItem(STORE + "privateJwk");
    if (field && saved && !field.value) field.value = saved;
    var kid = document.querySelector("form#jwt-form input#kid, input#kid[data-fill-from-session]");
    var savedKid = sessionStorage.getItem(STORE + "kid");
    if (kid && savedKid && !kid.value) kid.value = savedKid;
    var ch = document.querySelector("form#jwt-form input#channel_id, input#channel_id[data-fill-from-session]");
    var savedCh = sessionStorage.getItem(STORE + "channelId");
    if (ch && savedCh && !ch.value) ch.value = savedCh;
  }

  // "Send to": a form the server did not fill (no target posted) starts from this tab's last choice,
  // which the sandbox console sets to the sandbox (its channels and kids work nowhere else).
  function applySavedTarget() {
    var saved = null;
    try { saved = sessionStorage.getItem(STORE + "target"); } catch (e) { saved = null; }
    if (saved) {
      document.querySelectorAll("fieldset.target:not([data-chosen])").forEach(function (fs) {
        var radio = fs.querySelector('input[name="target"][value="' + saved + '"]');
        if (radio) radio.checked = true;
      });
    }
  }
  function setupTarget() {
    applySavedTarget();
    document.addEventListener("change", function (ev) {
      if (ev.target.name === "target" && ev.target.checked) {
        try { sessionStorage.setItem(STORE + "target", ev.target.value); } catch (e) { /* storage off */ }
      }
    });
  }

  document.addEventListener("linetester:render-times", renderTimes);
  // The inspector's expiry counts down while the page is open, in whole units of the page's language
  // ("11 min 15 s", "11分15秒"; a clock-like "11:15" reads as a time of day): data-units holds the
  // templates for d, h, min, s and the joiner, from the same catalog as the server's durations.
  var SIZES = [86400, 3600, 60, 1];
  function countdownText(s, units) {
    for (var i = 0; i < SIZES.length; i++) {
      if (s < SIZES[i] && i < SIZES.length - 1) continue;
      var text = units[i].replace("%(n)s", Math.floor(s / SIZES[i]));
      var second = i < SIZES.length - 1 ? Math.floor(s % SIZES[i] / SIZES[i + 1]) : 0;
      if (second) text = units[4].replace("%(first)s", text).replace("%(second)s", units[i + 1].replace("%(n)s", second));
      return text;
    }
  }
  function tickCountdowns() {
    var now = Math.floor(Date.now() / 1000);
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = Number(el.getAttribute("data-countdown")) - now;
      if (isNaN(left)) return;
      var units = ["%(n)s d", "%(n)s h", "%(n)s min", "%(n)s s", "%(first)s %(second)s"];
      try { units = JSON.parse(el.getAttribute("data-units")) || units; } catch (e) { /* keep English */ }
      el.textContent = el.getAttribute(left > 0 ? "data-future" : "data-past").replace("{t}", countdownText(Math.abs(left), units));
    });
  }
  setInterval(tickCountdowns, 1000);
  // Secret outputs (keys, JWTs, tokens) start blurred, with a Show button; without JS they stay readable.
  function setupSecretOutputs() {
    document.querySelectorAll("pre.secret-output").forEach(function (pre) { pre.classList.add("masked-output"); });
    document.querySelectorAll("button.toggle-secret.js-only").forEach(function (b) { b.hidden = false; });
  }

  // After a form post, take keyboard and screen-reader users to what it produced: the list of what
  // to fix, or the result (server-side actions put it far down the page).
  function focusOutcome() {
    var summary = document.querySelector(".error-summary");
    if (summary) { summary.focus(); return; }
    focusResult(document.querySelector("section.result:not([hidden])"));
  }

  // A chosen key file is read here and kept like a pasted key: in the field (so Back and Forward keep it)
  // and in this tab's sessionStorage (so the next page fills itself). Nothing is sent until the form is.
  var MAX_KEY_FILE = 64 * 1024;  // the server's limit for a key file (forms.MAX_UPLOAD)
  document.addEventListener("change", function (ev) {
    var input = ev.target;
    if (!input || input.id !== "private_key_file" || !input.files || !input.files[0]) return;
    var field = input.form && input.form.querySelector("textarea#private_key");
    var file = input.files[0];
    if (!field || file.size > MAX_KEY_FILE || !file.text) return;  // too big: the server names the problem
    file.text().then(function (text) {
      field.value = text;
      input.value = "";  // the key now travels as the pasted one does
      try { sessionStorage.setItem(STORE + "privateJwk", text); } catch (e) { /* storage off */ }
      field.dispatchEvent(new Event("input", { bubbles: true }));
    });
  });

  // Sandbox console: deleting a channel asks first (its keys and tokens go with it).
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var action = form.getAttribute && (form.getAttribute("action") || "");
    if (/\/console\/delete$/.test(action) && !window.confirm(t("confirm_delete", "Delete this channel?"))) {
      ev.preventDefault();
      ev.stopImmediatePropagation();
    }
  }, true);

  // Switching language on the sandbox console keeps the open channel: remember it across the switch
  // (this tab only) and open it again on arrival.
  document.addEventListener("click", function (ev) {  // delegated: the header is replaced by in-place answers
    var a = ev.target.closest && ev.target.closest(".lang a");
    var open = document.getElementById("open-channel");
    if (a && open && open.getAttribute("data-channel-id")) {
      try { sessionStorage.setItem(STORE + "reopenChannel", open.getAttribute("data-channel-id")); } catch (e) { /* off */ }
    }
  });
  function setupLanguageKeepsChannel() {
    var open = document.getElementById("open-channel");
    var reopen = null;
    try { reopen = sessionStorage.getItem(STORE + "reopenChannel"); sessionStorage.removeItem(STORE + "reopenChannel"); } catch (e) { reopen = null; }
    var form = document.querySelector("#open-channel-form form");
    if (!reopen || open || !form || !/^[0-9]{1,20}$/.test(reopen)) return;
    var field = form.querySelector('[name="channel_id"]');
    if (!field) return;
    field.value = reopen;
    var secret = form.querySelector('[name="channel_secret"]');
    if (secret && !secret.value) {
      try { secret.value = sessionStorage.getItem(STORE + "sandboxSecret." + reopen) || ""; } catch (e) { /* off */ }
    }
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }

  document.addEventListener("DOMContentLoaded", function () {
    showScriptButtons();
    setupLanguageKeepsChannel();
    setupSecretOutputs();
    renderTimes();
    setupKeygen();
    setupCarry();
    setupTarget();
    focusOutcome();
  });
  // A result rendered in place (static/flow.js): the same set-up for the new content.
  document.addEventListener("linetester:rendered", function () {
    showScriptButtons();
    setupKeygen();
    setupSecretOutputs();
    renderTimes();
    setupCarry();
    applySavedTarget();
  });
})();
