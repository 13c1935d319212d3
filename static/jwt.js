/* JWT page: sign the assertion in this browser with WebCrypto, so the private key never leaves it.
   The same rules and messages as the server: the page hands us the messages in #jwt-messages (signing.MESSAGES)
   and LINE's bounds in #line-rules (rules.browser_rules(), from the rules table); no bound is written here. */
(function () {
  "use strict";

  function Refusal(field, message) { this.field = field; this.message = message; }

  function fmt(template, params) {
    return template.replace(/%\((\w+)\)[sd]/g, function (_, name) { return params && name in params ? params[name] : ""; });
  }

  function b64urlToBytes(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function bitLength(bytes) {
    var i = 0;
    while (i < bytes.length && bytes[i] === 0) i++;
    if (i === bytes.length) return 0;
    return (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]));
  }
  function utf8(s) { return new TextEncoder().encode(s); }
  function b64url(bytes) { return window.LineTester.b64url(bytes); }

  // DER helpers to wrap a PKCS#1 RSA key into PKCS#8, which WebCrypto imports.
  function derLen(n) {
    if (n < 128) return [n];
    var out = [];
    while (n > 0) { out.unshift(n & 255); n >>= 8; }
    return [0x80 | out.length].concat(out);
  }
  function der(tag, body) {
    var head = [tag].concat(derLen(body.length)), out = new Uint8Array(head.length + body.length);
    out.set(head, 0); out.set(body, head.length);
    return out;
  }
  function concat(parts) {
    var total = 0, i, off = 0;
    for (i = 0; i < parts.length; i++) total += parts[i].length;
    var out = new Uint8Array(total);
    for (i = 0; i < parts.length; i++) { out.set(parts[i], off); off += parts[i].length; }
    return out;
  }
  function pemBody(pem) {
    var b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
    var bin = atob(b64), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function pkcs1ToPkcs8(pkcs1) {
    var version = new Uint8Array([0x02, 0x01, 0x00]);
    var algId = new Uint8Array([0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00]);
    return der(0x30, concat([version, algId, der(0x04, pkcs1)]));
  }

  var ALG = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };

  /* Load the key as signing.load_private_key does; resolves to {key, kid}. */
  function loadKey(text, M) {
    if (!text.trim()) return Promise.reject(new Refusal("private_key", M.empty_key));
    if (text.indexOf("-----BEGIN") >= 0) {
      if (text.indexOf("PUBLIC KEY") >= 0 && text.indexOf("PRIVATE KEY") < 0) return Promise.reject(new Refusal("private_key", M.public_only));
      // The same answers as the server (signing._load_pem): encrypted, not RSA, unreadable.
      if (text.indexOf("ENCRYPTED") >= 0) return Promise.reject(new Refusal("private_key", M.encrypted));
      if (text.indexOf("BEGIN EC PRIVATE KEY") >= 0) return Promise.reject(new Refusal("private_key", fmt(M.kty, { kty: "\"EC\"" })));
      var body;
      try { body = pemBody(text); } catch (e) { return Promise.reject(new Refusal("private_key", M.pem_unreadable)); }
      var pkcs8 = text.indexOf("BEGIN RSA PRIVATE KEY") >= 0 ? pkcs1ToPkcs8(body) : body;
      var notRsa = function () {
        // A PKCS#8 block that is no RSA key: an EC key says so, anything else is unreadable.
        var tries = ["P-256", "P-384", "P-521"].map(function (curve) {
          return crypto.subtle.importKey("pkcs8", body, { name: "ECDSA", namedCurve: curve }, false, ["sign"]);
        });
        return Promise.any(tries).then(function () {
          throw new Refusal("private_key", fmt(M.kty, { kty: "\"EC\"" }));
        }, function () { throw new Refusal("private_key", M.pem_unreadable); });
      };
      return crypto.subtle.importKey("pkcs8", pkcs8, ALG, true, ["sign"]).then(function (key) {
        return crypto.subtle.exportKey("jwk", key).then(function (j) {
          var bits = bitLength(b64urlToBytes(j.n));
          if (bits !== 2048) throw new Refusal("private_key", fmt(M.bits, { bits: bits }));
          return { key: key, kid: null };
        });
      }, notRsa);
    }
    var data;
    try { data = JSON.parse(text); } catch (e) { return Promise.reject(new Refusal("private_key", M.not_object)); }
    if (data && typeof data === "object" && data.privateKey && !data.kty) data = typeof data.privateKey === "string" ? JSON.parse(data.privateKey) : data.privateKey;
    if (data && Array.isArray(data.keys) && data.keys.length === 1) data = data.keys[0];
    if (!data || typeof data !== "object" || Array.isArray(data)) return Promise.reject(new Refusal("private_key", M.not_object));
    if (data.kty !== "RSA") return Promise.reject(new Refusal("private_key", fmt(M.kty, { kty: JSON.stringify(data.kty === undefined ? null : data.kty) })));
    if (!data.d) return Promise.reject(new Refusal("private_key", M.public_only));
    var bits = bitLength(b64urlToBytes(String(data.n || "")));
    if (bits !== 2048) return Promise.reject(new Refusal("private_key", fmt(M.bits, { bits: bits })));
    var jwk = { kty: "RSA", n: data.n, e: data.e, d: data.d, p: data.p, q: data.q, dp: data.dp, dq: data.dq, qi: data.qi, alg: "RS256", ext: true };
    return crypto.subtle.importKey("jwk", jwk, ALG, false, ["sign"]).then(function (key) {
      return { key: key, kid: typeof data.kid === "string" && data.kid ? data.kid : null };
    }, function () { throw new Refusal("private_key", M.not_object); });
  }

  /* rules.whole_number for a form field: ASCII digits (the pattern comes from the page); NaN otherwise. */
  function wholeNumber(value, pattern) {
    value = (value || "").trim();
    return new RegExp(pattern).test(value) ? parseInt(value, 10) : NaN;
  }

  function showError(form, field, message) {
    var input = form.querySelector("#" + field) || form.querySelector("#private_key");
    var holder = input.closest(".field") || input.parentNode;
    var p = document.getElementById(field + "-error");
    if (!p) {
      p = document.createElement("p");
      p.className = "field-error";
      p.id = field + "-error";
      p.setAttribute("role", "alert");
      holder.appendChild(p);
    }
    p.textContent = message;
    holder.classList.add("has-error");
    input.setAttribute("aria-invalid", "true");
    var ids = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (ids.indexOf(p.id) < 0) ids.push(p.id);
    input.setAttribute("aria-describedby", ids.join(" "));
    input.focus();
  }
  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach(function (p) { p.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
      var ids = (el.getAttribute("aria-describedby") || "").split(" ").filter(function (id) { return !/-error$/.test(id); });
      if (ids.length) el.setAttribute("aria-describedby", ids.join(" ")); else el.removeAttribute("aria-describedby");
    });
    form.querySelectorAll(".has-error").forEach(function (el) { el.classList.remove("has-error"); });
    var summary = document.querySelector(".error-summary");
    if (summary) summary.remove();
  }

  function readKeyText(form) {
    var file = form.querySelector("#private_key_file");
    if (file && file.files && file.files[0]) return file.files[0].text();
    return Promise.resolve(form.querySelector("#private_key").value);
  }

  function signInBrowser(form, M, R) {
    var channel = form.querySelector("#channel_id").value.trim();
    var kidField = form.querySelector("#kid").value.trim();
    var unit = form.querySelector("#token_exp_unit").value;
    var amountText = form.querySelector("#token_exp").value.trim(), minutesText = form.querySelector("#exp_minutes").value.trim();
    var amount = wholeNumber(amountText, R.whole_number_pattern);
    var minutes = minutesText ? wholeNumber(minutesText, R.whole_number_pattern) : R.max_exp_minutes;
    return readKeyText(form).then(function (text) { return loadKey(text, M); }).then(function (loaded) {
      // The order of checks follows views.sign_from_form and signing.validate_claims.
      // An empty lifetime is the server's default (signing.assertion_from_fields), whatever the unit.
      var tokenExp = amountText ? amount * (R.token_exp_units[unit] || R.token_exp_units.days) : R.default_token_exp;
      if (!(tokenExp >= R.min_token_exp && tokenExp <= R.max_token_exp)) throw new Refusal("token_exp", fmt(M.token_exp_range, { value: isNaN(tokenExp) ? "?" : tokenExp.toLocaleString("en") }));
      if (!(minutes >= R.min_exp_minutes && minutes <= R.max_exp_minutes)) throw new Refusal("exp_minutes", fmt(M.exp_minutes, { value: isNaN(minutes) ? "?" : minutes }));
      if (!new RegExp(R.channel_id_pattern).test(channel)) throw new Refusal("channel_id", M.channel_id);
      var kid = kidField || loaded.kid || "";
      if (!kid) throw new Refusal("kid", M.kid_missing);
      // A kid this tab registered in the sandbox console belongs to one channel: a mistyped channel ID (9 digits,
      // another channel's) is what the sandbox would refuse at issue time ("iss and clientId of key do not match").
      var owner = null;
      try { owner = sessionStorage.getItem("lineTester.kidChannel." + kid); } catch (e) { owner = null; }
      if (owner && owner !== channel && M.kid_channel) {
        throw new Refusal("channel_id", fmt(M.kid_channel, { kid: kid, channel: owner, typed: channel }));
      }
      var now = Math.floor(Date.now() / 1000);
      var header = { alg: R.alg, typ: R.typ, kid: kid };
      var payload = { iss: channel, sub: channel, aud: R.aud, exp: now + minutes * 60, token_exp: tokenExp };
      var input = b64url(utf8(JSON.stringify(header))) + "." + b64url(utf8(JSON.stringify(payload)));
      return crypto.subtle.sign(ALG.name, loaded.key, utf8(input)).then(function (sig) {
        return { token: input + "." + b64url(new Uint8Array(sig)), header: header, payload: payload };
      });
    });
  }

  function showResult(result) {
    var section = document.getElementById("browser-result");
    document.getElementById("browser-jwt-token").textContent = result.token;
    document.getElementById("browser-jwt-header").textContent = JSON.stringify(result.header, null, 2);
    document.getElementById("browser-jwt-payload").textContent = JSON.stringify(result.payload, null, 2);
    var exp = new Date(result.payload.exp * 1000), time = document.getElementById("browser-exp");
    time.setAttribute("datetime", exp.toISOString());
    time.setAttribute("data-epoch", String(result.payload.exp));
    time.textContent = exp.toLocaleString(document.documentElement.lang || undefined);
    document.getElementById("browser-exp-relative").setAttribute("data-relative", String(result.payload.exp));
    var hidden = document.getElementById("browser-client-assertion");
    if (hidden) hidden.value = result.token;
    var server = document.getElementById("jwt-result");
    if (server) server.hidden = true;
    section.hidden = false;
    document.dispatchEvent(new CustomEvent("linetester:render-times"));
    window.LineTester.focusResult(section);  // keyboard users land on the result's heading
  }

  /* Set up the form; again after an answer shown in place (static/flow.js), whose form is a new element. */
  function init() {
    var form = document.getElementById("jwt-form");
    var messagesEl = document.getElementById("jwt-messages");
    var rulesEl = document.getElementById("line-rules");
    if (!form || !messagesEl || !rulesEl || !(window.crypto && crypto.subtle) || form.ltBound) return;
    form.ltBound = true;  // a property, not an attribute: a restored snapshot's copy is bound again
    var M = JSON.parse(messagesEl.textContent), R = JSON.parse(rulesEl.textContent);
    var where = document.getElementById("sign-where");
    var button = document.getElementById("sign-button");
    var advanced = form.querySelector('input[name="mode"][value="advanced"]');
    where.hidden = false;
    function inBrowser() {
      var chosen = form.querySelector('input[name="sign_in"]:checked');
      return chosen && chosen.value === "browser" && !(advanced && advanced.checked);
    }
    var browserRadio = form.querySelector('input[name="sign_in"][value="browser"]');
    var serverNote = document.getElementById("advanced-server-note");
    function relabel() {
      button.textContent = inBrowser() ? button.getAttribute("data-label-browser") : button.getAttribute("data-label-server");
      // Advanced mode posts the key: the "never leaves your computer" choice would not be true, so it is off.
      var adv = !!(advanced && advanced.checked);
      if (browserRadio) browserRadio.disabled = adv;
      if (serverNote) serverNote.hidden = !adv;
    }
    form.addEventListener("change", relabel);
    relabel();
    form.addEventListener("submit", function (ev) {
      if (!inBrowser()) return; // the server signs (also the path for raw header/payload)
      ev.preventDefault();
      clearErrors(form);
      button.disabled = true;
      signInBrowser(form, M, R).then(function (result) {
        showResult(result);
        button.disabled = false;
        // This entry keeps the JWT: reload, Back and Forward show it again (this tab only, as flow.js does).
        if (window.LineTester.keepHere) window.LineTester.keepHere();
      }, function (err) {
        if (err instanceof Refusal) showError(form, err.field, err.message);
        else showError(form, "private_key", M.not_object + " (" + err + ")");
      }).then(function () { button.disabled = false; });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();  // loaded by static/flow.js after an answer shown in place
  document.addEventListener("linetester:rendered", init);
})();
