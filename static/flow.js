/* The flow without resubmitting: the proxy pages and the inspector answer in place, and
   Back / Forward move between those answers without sending anything again.

   A form post is sent with fetch (the same form post as without JavaScript, CSRF token
   included); the answer's <main> replaces this page's, and a history entry is pushed
   whose state holds only a random entry id. The rendered answer (it holds secrets: the
   token, the JWT) is kept in this tab's sessionStorage under that id, never in a URL or
   in the history state, and popstate puts it back without a request. Without JavaScript
   the forms post as before (see docs/back-forward.md for why not POST/redirect/GET).

   Also here: the token wallet (tokens issued in this tab, masked, with Verify / Revoke /
   "Revoke all I issued here"), and focus on the result after every action. */
(function () {
  "use strict";
  var STORE = "lineTester.";
  var ENTRY = STORE + "entry.";
  var ENTRIES = STORE + "entries";
  var WALLET = STORE + "wallet";
  var MAX_ENTRIES = 30;  // history snapshots kept in this tab (oldest dropped first)
  var MAX_WALLET = 100;  // tokens remembered in this tab
  var CARRY = STORE + "carryEntry";  // the entry to show again after a language switch (this tab only)
  var SECRET = STORE + "secret.";    // channel secrets typed in this tab, per target and channel
  var INPLACE = /^\/(oauth2\/v2\.1\/(keys|jwt|token|tokens|verify|revoke)|oauth2\/v3\/token|v2\/oauth\/(accessToken|verify|revoke)|v2\/bot\/info|inspect)$/;
  // The sandbox console's forms post to /sandbox/console/…, which have no page of their own: their answers are
  // shown in place under the console's address, so a reload there (a GET) finds the saved answer.
  var CONSOLE = /^(\/sandbox)\/console\/(open|channels|keys|keys\/delete|long-lived|revoke|delete|bot|faults|faults\/clear|clock|clock\/reset)$/;
  function addressFor(path) {
    if (INPLACE.test(path)) return path;
    var m = CONSOLE.exec(path);
    return m ? m[1] + "/" : null;
  }
  var T = {};
  try { T = JSON.parse(document.getElementById("i18n").textContent); } catch (e) { T = {}; }
  function t(key, fallback) { return T[key] || fallback || key; }
  function fmt(text, params) {
    return text.replace(/%\((\w+)\)s/g, function (_, k) { return params[k] === undefined ? "" : String(params[k]); });
  }
  function store(key, value) {
    try { sessionStorage.setItem(key, value); return true; } catch (e) { return false; }
  }
  function load(key) {
    try { return sessionStorage.getItem(key); } catch (e) { return null; }
  }
  function newId() {
    var a = new Uint8Array(9);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // ------------------------------------------------------------------ snapshots of <main>

  /* Typed values live in properties, not in the HTML: copy them into attributes first. */
  function freezeValues(root) {
    root.querySelectorAll("input, textarea, select").forEach(function (el) {
      if (el.type === "file" || el.type === "hidden") return;
      if (el.tagName === "TEXTAREA") el.textContent = el.value;
      else if (el.tagName === "SELECT") {
        Array.prototype.forEach.call(el.options, function (o) { o.toggleAttribute("selected", o.selected); });
      } else if (el.type === "radio" || el.type === "checkbox") el.toggleAttribute("checked", el.checked);
      else el.setAttribute("value", el.value);
    });
    root.querySelectorAll("details").forEach(function (d) { d.toggleAttribute("open", d.open); });
  }
  function snapshot() {
    var main = document.getElementById("main");
    freezeValues(main);
    var header = document.querySelector("header.site");
    return { html: main.innerHTML, header: header ? header.innerHTML : "", title: document.title, path: location.pathname };
  }
  function saveEntry(id, snap) {
    var ids = [];
    try { ids = JSON.parse(load(ENTRIES) || "[]"); } catch (e) { ids = []; }
    ids = ids.filter(function (x) { return x !== id; });
    ids.push(id);
    while (ids.length > MAX_ENTRIES) {
      try { sessionStorage.removeItem(ENTRY + ids.shift()); } catch (e) { /* storage off */ }
    }
    var ok = store(ENTRY + id, JSON.stringify(snap));
    while (!ok && ids.length > 1) {  // storage full: drop the oldest snapshots and retry
      try { sessionStorage.removeItem(ENTRY + ids.shift()); } catch (e) { break; }
      ok = store(ENTRY + id, JSON.stringify(snap));
    }
    store(ENTRIES, JSON.stringify(ids));
    return ok;
  }

  function show(html, title, focusResult, headerHtml) {
    var main = document.getElementById("main");
    main.innerHTML = html;
    // The header too: the current page in the nav, and language links that return to this page.
    var header = document.querySelector("header.site");
    if (header && headerHtml) header.innerHTML = headerHtml;
    if (title) document.title = title;
    document.dispatchEvent(new CustomEvent("linetester:rendered"));
    if (focusResult) focusOutcome();
  }

  /* Keyboard and screen-reader users land on what the action produced: the result's heading. */
  function focusOutcome() {
    var target = document.querySelector(".error-summary, #upstream-error") ||
      document.querySelector("section.result:not([hidden])");
    if (target && window.LineTester && window.LineTester.focusResult) window.LineTester.focusResult(target);
  }

  function ensureScripts(doc) {
    doc.querySelectorAll("head script[src]").forEach(function (s) {
      var src = s.getAttribute("src");
      if (!document.querySelector('head script[src="' + src + '"]')) {
        var el = document.createElement("script");
        el.src = src;
        document.head.appendChild(el);
      }
    });
  }

  function submitInPlace(form, submitter, address) {
    var action = new URL(form.getAttribute("action") || location.pathname, location.href);
    var body = new FormData(form);
    if (submitter && submitter.name) body.append(submitter.name, submitter.value);
    var buttons = form.querySelectorAll("button[type=submit], button:not([type])");
    // This entry first: Back returns to it as it is now, typed values included (buttons not yet disabled).
    if (!(history.state && history.state.lt)) {
      var here = newId();
      if (saveEntry(here, snapshot())) history.replaceState({ lt: here }, "");
    } else {
      saveEntry(history.state.lt, snapshot());
    }
    buttons.forEach(function (b) { b.disabled = true; });
    return fetch(action.pathname, {
      method: "POST", body: body, credentials: "same-origin", headers: { Accept: "text/html" }
    }).then(function (response) {
      return response.text().then(function (text) { return { response: response, text: text }; });
    }).then(function (r) {
      var doc = new DOMParser().parseFromString(r.text, "text/html");
      var main = doc.getElementById("main");
      if (!main) throw new Error("no main");
      ensureScripts(doc);
      var id = newId();
      var header = doc.querySelector("header.site");
      show(main.innerHTML, doc.title, true, header ? header.innerHTML : "");
      var snap = snapshot();
      snap.path = address;  // the address the entry gets (pushState below), not the one it leaves
      if (saveEntry(id, snap)) history.pushState({ lt: id }, "", address);
    }).catch(function () {
      // Could not answer in place (offline, storage off…): post the form the ordinary way.
      buttons.forEach(function (b) { b.disabled = false; });
      form.setAttribute("data-native", "1");
      if (submitter && submitter.name) {
        var h = document.createElement("input");
        h.type = "hidden"; h.name = submitter.name; h.value = submitter.value;
        form.appendChild(h);
      }
      form.submit();
    });
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    rememberSecret(form);
    if (ev.defaultPrevented || form.getAttribute("data-native") || (form.method || "").toLowerCase() !== "post") return;
    var action = new URL(form.getAttribute("action") || location.pathname, location.href);
    var address = action.origin === location.origin ? addressFor(action.pathname) : null;
    if (!address) return;
    if (!window.fetch || !window.DOMParser || !window.history || !history.pushState) return;
    ev.preventDefault();
    submitInPlace(form, ev.submitter, address);
  });

  /* A result made in the page itself (a key pair, a JWT signed here): keep it in this entry, so reload, Back and
     Forward show it again. */
  window.LineTester = window.LineTester || {};
  window.LineTester.keepHere = function () {
    var id = history.state && history.state.lt;
    if (!id) id = newId();
    if (saveEntry(id, snapshot())) history.replaceState({ lt: id }, "");
  };

  function loadEntry(id) {
    try { return JSON.parse(load(ENTRY + id) || "null"); } catch (e) { return null; }
  }

  function navigationType() {
    try { return performance.getEntriesByType("navigation")[0].type; } catch (e) { return "navigate"; }
  }

  /* Reload, or Back/Forward onto a page the browser did not keep, shows the in-place answer again: the address
     is the form's, but history.state still names the entry. A fresh visit to the same address (a link, the
     address bar: Chrome carries the state over) starts with the empty form. */
  function restoreOnLoad() {
    var id = history.state && history.state.lt;
    if (id) {
      var how = navigationType();
      if (how !== "reload" && how !== "back_forward") { history.replaceState(null, ""); return; }
      var snap = loadEntry(id);
      if (snap && snap.path === location.pathname) show(snap.html, snap.title, false, null);
      return;
    }
    // Arrived from the language switch: the answer shown before it comes back, nothing is sent again.
    var carry = null;
    try { carry = JSON.parse(load(CARRY) || "null"); sessionStorage.removeItem(CARRY); } catch (e) { carry = null; }
    if (!carry || carry.path !== location.pathname) return;
    var old = loadEntry(carry.id);
    if (!old) return;
    var parsed = new DOMParser().parseFromString("<div>" + old.html + "</div>", "text/html");
    var result = parsed.querySelector("section.result:not([hidden])");
    var main = document.getElementById("main");
    if (!result || main.querySelector("section.result:not([hidden])")) return;
    var note = document.createElement("p");
    note.className = "note";
    note.id = "restored-note";
    note.textContent = t("restored", "Shown as it was answered before the language switch; nothing was sent again.");
    result.insertBefore(note, result.firstElementChild ? result.firstElementChild.nextSibling : null);
    var copy = document.importNode(result, true);
    var same = result.id ? document.getElementById(result.id) : null;  // e.g. the JWT page's hidden browser result
    if (same && main.contains(same)) same.replaceWith(copy);
    else {
      var before = main.querySelector(".lead");
      main.insertBefore(copy, before ? before.nextSibling : main.firstChild);
    }
    var here = newId();
    if (saveEntry(here, snapshot())) history.replaceState({ lt: here }, "");
    document.dispatchEvent(new CustomEvent("linetester:rendered"));
  }

  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest(".lang a");
    var id = history.state && history.state.lt;
    // The console reopens its channel itself across the switch (static/app.js).
    if (!a || !id || location.pathname === "/sandbox/") return;
    saveEntry(id, snapshot());
    store(CARRY, JSON.stringify({ id: id, path: location.pathname }));
  });

  window.addEventListener("popstate", function (ev) {
    var id = ev.state && ev.state.lt;
    if (!id) return;
    var snap = null;
    try { snap = JSON.parse(load(ENTRY + id) || "null"); } catch (e) { snap = null; }
    if (snap && snap.path === location.pathname) {
      show(snap.html, snap.title, true, snap.header);
    } else {
      // The snapshot is gone (storage cleared): show this address's form, a GET that issues nothing.
      location.replace(location.pathname);
    }
  });

  // ------------------------------------------------------------------ the token wallet

  function walletAll() {
    try { var w = JSON.parse(load(WALLET) || "[]"); return Array.isArray(w) ? w : []; } catch (e) { return []; }
  }
  function walletSave(list) { store(WALLET, JSON.stringify(list.slice(-MAX_WALLET))); }
  function mask(token) { return token.length < 12 ? "••••" : token.slice(0, 4) + "…" + token.slice(-4); }

  /* A v2.1 token just issued on this page: remember it in this tab (once, however often it is shown). */
  function recordIssued() {
    var result = document.querySelector("section.result[data-issued-v21]");
    var pre = document.getElementById("access-token");
    if (!result || !pre) return;
    var token = pre.textContent.trim();
    if (!token) return;
    var list = walletAll();
    if (list.some(function (x) { return x.token === token; })) return;
    var expiresIn = Number(result.getAttribute("data-expires-in")) || 0;
    list.push({
      token: token, keyId: result.getAttribute("data-key-id") || "", channel: result.getAttribute("data-channel") || "",
      target: result.getAttribute("data-target") || "line", expiresAt: Math.floor(Date.now() / 1000) + expiresIn
    });
    walletSave(list);
  }

  function csrfToken() {
    var el = document.querySelector('input[name="csrf_token"]');
    return el ? el.value : "";
  }
  function postJson(path, body) {
    return fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body)
    }).then(function (r) { return r.json().then(function (j) { return { status: r.status, body: j }; }); });
  }
  function describe(answer) {
    if (answer.status !== 200) return answer.body.error_description || String(answer.status);
    var body = answer.body.response_body;
    if (answer.body.response_status_code === 200 && body && body.expires_in !== undefined) {
      return fmt(t("wallet_valid", "Valid: %(seconds)s seconds left."), { seconds: body.expires_in });
    }
    return fmt(t("wallet_invalid", "Not valid: %(reason)s"), {
      reason: (body && (body.error_description || body.message || body.error)) || answer.body.response_status_code
    });
  }

  function verify(entry) {
    return postJson("/oauth2/v2.1/verify", { access_token: entry.token, target: entry.target });
  }
  function revoke(entry, secret) {
    return postJson("/oauth2/v2.1/revoke", {
      client_id: entry.channel, client_secret: secret, access_token: entry.token, target: entry.target
    }).then(function (answer) {
      if (answer.status !== 200 || answer.body.response_status_code !== 200) return { ok: false, answer: answer };
      // LINE answers 200 for unknown tokens too: verify to be sure it is gone.
      return verify(entry).then(function (v) {
        var gone = v.status === 200 && v.body.response_status_code !== 200;
        return { ok: gone, answer: v };
      });
    });
  }
  function secretFor(group) {
    var input = document.getElementById("wallet-secret-" + group.key);
    return input ? input.value.trim() : "";
  }
  /* A channel secret this tab already holds: the sandbox console's, or one typed into a revoke form here. */
  function knownSecret(target, channel) {
    if (!channel) return "";
    return (target === "sandbox" && load(STORE + "sandboxSecret." + channel)) || load(SECRET + target + "." + channel) || "";
  }
  function keepSecret(target, channel, secret) {
    if (channel && secret && /^[0-9]{1,20}$/.test(channel)) store(SECRET + target + "." + channel, secret);
  }
  function formTarget(form) {
    var checked = form.querySelector('input[name="target"]:checked') || form.querySelector('input[name="target"][type="hidden"]');
    return checked && checked.value === "sandbox" ? "sandbox" : "line";
  }
  function rememberSecret(form) {
    if (!form || !form.querySelector) return;
    var id = form.querySelector('[name="client_id"]'), secret = form.querySelector('[name="client_secret"]');
    if (id && secret && secret.type !== "hidden") keepSecret(formTarget(form), id.value.trim(), secret.value.trim());
  }

  function renderWallet() {
    var old = document.getElementById("wallet");
    if (old) old.remove();
    var now = Math.floor(Date.now() / 1000);
    var list = walletAll().filter(function (x) { return x.expiresAt > now; });
    walletSave(list);
    if (!list.length || !document.querySelector("#token-form, #verify-form, #revoke-form, #tokens-form, #try-form")) return;
    var groups = {};
    list.forEach(function (x) {
      var key = x.target + "-" + x.channel;
      (groups[key] = groups[key] || { key: key, channel: x.channel, target: x.target, items: [] }).items.push(x);
    });
    var section = document.createElement("section");
    section.className = "card wallet";
    section.id = "wallet";
    section.setAttribute("aria-labelledby", "wallet-title");
    var h = document.createElement("h2");
    h.id = "wallet-title";
    h.textContent = t("wallet_title", "Tokens issued in this tab");
    section.appendChild(h);
    var p = document.createElement("p");
    p.className = "hint";
    p.textContent = t("wallet_hint", "Kept in this tab only (sessionStorage), shown masked; closing the tab forgets them.");
    section.appendChild(p);
    Object.keys(groups).forEach(function (k) {
      var g = groups[k];
      var h3 = document.createElement("h3");
      h3.textContent = fmt(t("wallet_channel", "Channel %(channel)s (%(target)s) · issued here: %(count)s"), {
        channel: g.channel || "?", target: g.target === "sandbox" ? t("sandbox", "sandbox") : "LINE", count: g.items.length
      });
      section.appendChild(h3);
      var field = document.createElement("div");
      field.className = "field";
      var label = document.createElement("label");
      label.setAttribute("for", "wallet-secret-" + g.key);
      label.textContent = t("wallet_secret", "Channel secret (needed to revoke)");
      var input = document.createElement("input");
      input.type = "password"; input.id = "wallet-secret-" + g.key; input.autocomplete = "off";
      var known = knownSecret(g.target, g.channel);
      if (known) input.value = known;
      input.addEventListener("change", function () { keepSecret(g.target, g.channel, input.value.trim()); });
      field.appendChild(label); field.appendChild(input);
      section.appendChild(field);
      var table = document.createElement("table");
      table.className = "fields";
      g.items.forEach(function (x) {
        var tr = document.createElement("tr");
        var td1 = document.createElement("td");
        td1.innerHTML = "<code></code>";
        td1.firstChild.textContent = mask(x.token);
        var td2 = document.createElement("td");
        td2.textContent = "key_id " + (x.keyId || "?");
        var td3 = document.createElement("td");
        var status = document.createElement("span");
        status.className = "wallet-status";
        status.setAttribute("aria-live", "polite");
        var vb = document.createElement("button");
        vb.type = "button"; vb.className = "wallet-verify"; vb.textContent = t("verify", "Verify");
        vb.addEventListener("click", function () {
          status.textContent = "…";
          verify(x).then(function (a) { status.textContent = describe(a); }, function () { status.textContent = "?"; });
        });
        var rb = document.createElement("button");
        rb.type = "button"; rb.className = "wallet-revoke"; rb.textContent = t("revoke", "Revoke");
        rb.addEventListener("click", function () {
          var secret = secretFor(g);
          if (!secret) { status.textContent = t("wallet_need_secret", "Enter the channel secret first."); input.focus(); return; }
          if (!window.confirm(t("confirm_revoke", "Revoke this token?"))) return;  // asked once
          status.textContent = "…";
          revoke(x, secret).then(function (r) {
            if (r.ok) {
              revoked([x.token]);
              announce(fmt(t("wallet_revoked_named", "Revoked %(token)s, and verified: it no longer works."), { token: mask(x.token) }));
            } else status.textContent = describe(r.answer);
          }, function () { status.textContent = "?"; });
        });
        td3.appendChild(vb); td3.appendChild(rb); td3.appendChild(status);
        tr.appendChild(td1); tr.appendChild(td2); tr.appendChild(td3);
        table.appendChild(tr);
      });
      section.appendChild(table);
      var all = document.createElement("button");
      all.type = "button"; all.className = "wallet-revoke-all";
      all.textContent = t("wallet_revoke_all", "Revoke all I issued here");
      all.addEventListener("click", function () {
        var secret = secretFor(g);
        if (!secret) { announce(t("wallet_need_secret", "Enter the channel secret first.")); input.focus(); return; }
        if (!window.confirm(fmt(t("confirm_revoke_all", "Revoke all %(count)s tokens?"), { count: g.items.length, channel: g.channel }))) return;
        all.disabled = true;
        var done = [], failed = 0;
        g.items.reduce(function (chain, x) {  // one at a time: bounded by this tab's list
          return chain.then(function () {
            return revoke(x, secret).then(function (r) { if (r.ok) done.push(x.token); else failed++; },
                                          function () { failed++; });
          });
        }, Promise.resolve()).then(function () {
          revoked(done);
          announce(fmt(t("wallet_revoked_all", "Revoked %(done)s; %(failed)s failed."), { done: done.length, failed: failed }));
        });
      });
      section.appendChild(all);
    });
    var live = document.createElement("p");
    live.id = "wallet-live"; live.setAttribute("role", "status");
    section.appendChild(live);
    var slot = document.getElementById("wallet-slot");
    if (slot) slot.appendChild(section); else document.getElementById("main").appendChild(section);
  }
  function forget(token) { walletSave(walletAll().filter(function (x) { return x.token !== token; })); }

  /* What the page shows after tokens were revoked here: the slot count, no next step for them, a word on what
     happened (in a status line that stays when the wallet empties), and the history entry to match. */
  function revoked(tokens) {
    if (!tokens.length) { renderWallet(); return; }
    var gone = {};
    tokens.forEach(function (token) { gone[token] = true; forget(token); });
    var result = document.querySelector("section.result[data-issued-v21]");
    var slots = document.getElementById("slots-count");
    if (result && slots) {
      var count = Math.max(0, Number(slots.getAttribute("data-count")) - tokens.length);
      slots.setAttribute("data-count", String(count));
      slots.textContent = fmt(t("slots", "%(count)s of 30 v2.1 slots in use on this channel."), { count: count });
    }
    document.querySelectorAll("form.next").forEach(function (form) {
      var field = form.querySelector('input[name="access_token"]');
      if (!field || !gone[field.value]) return;
      var steps = form.closest(".next-steps") || form.parentNode;
      if (!steps.querySelector(".revoked-note")) {
        var note = document.createElement("p");
        note.className = "note revoked-note";
        note.textContent = t("wallet_revoked_gone", "This token was revoked from this tab's list: it no longer works.");
        steps.appendChild(note);
      }
      form.remove();
    });
    renderWallet();
    if (history.state && history.state.lt) saveEntry(history.state.lt, snapshot());
  }

  /* A status line beside the wallet that outlives it: when the last token is revoked the box goes, the words stay. */
  function announce(text) {
    var live = document.getElementById("tab-status");
    if (!live) {
      live = document.createElement("p");
      live.id = "tab-status";
      live.className = "note";
      live.setAttribute("role", "status");
      var slot = document.getElementById("wallet-slot");
      var wallet = document.getElementById("wallet");
      if (wallet) wallet.parentNode.insertBefore(live, wallet);
      else if (slot) slot.appendChild(live);
      else document.getElementById("main").appendChild(live);
    }
    live.textContent = text;
  }

  // ------------------------------------------------------------------ forms take what this tab holds

  function tabTokens(target) {
    var now = Math.floor(Date.now() / 1000);
    return walletAll().filter(function (x) { return x.expiresAt > now && (!target || x.target === target); });
  }
  function entryFor(token) {
    return walletAll().filter(function (x) { return x.token === token; })[0] || null;
  }
  function setTarget(form, target) {
    var radio = form.querySelector('input[name="target"][value="' + target + '"]');
    if (radio && radio.type === "radio") radio.checked = true;
  }
  /* The revoke form: the channel ID from the token's entry (or the channel this tab last used), its secret from
     what this tab holds. */
  function fillRevoke(form) {
    var token = form.querySelector("#access_token"), id = form.querySelector("#client_id");
    var secret = form.querySelector("#client_secret");
    if (!token || !id || !secret) return;
    var entry = token.value.trim() ? entryFor(token.value.trim()) : null;
    if (entry && !id.value.trim()) id.value = entry.channel;
    var target = entry ? entry.target : formTarget(form);
    if (!id.value.trim() && target === "sandbox") id.value = load(STORE + "channelId") || "";
    if (!secret.value) secret.value = knownSecret(target, id.value.trim());
  }
  /* One click fills a token issued in this tab (and, to revoke, its channel and secret). */
  function offerTokens(form) {
    var field = form.querySelector("textarea#access_token");
    if (!field || form.querySelector(".tab-tokens")) return;
    var list = tabTokens();
    if (!list.length) return;
    var box = document.createElement("div");
    box.className = "tab-tokens";
    var label = document.createElement("p");
    label.className = "hint";
    label.textContent = t("use_tab_token", "Use a token issued in this tab:");
    box.appendChild(label);
    list.slice(-5).reverse().forEach(function (x) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "use-tab-token";
      b.textContent = mask(x.token) + " · " + (x.channel || "?") + " (" + (x.target === "sandbox" ? t("sandbox", "sandbox") : "LINE") + ")";
      b.addEventListener("click", function () {
        field.value = x.token;
        setTarget(form, x.target);
        var id = form.querySelector("#client_id"), secret = form.querySelector("#client_secret");
        if (id) { id.value = x.channel; if (secret) secret.value = knownSecret(x.target, x.channel) || secret.value; }
        field.dispatchEvent(new Event("input", { bubbles: true }));
        field.focus();
      });
      box.appendChild(b);
    });
    var holder = field.closest(".field") || field.parentNode;
    holder.appendChild(box);
  }
  function fillForms() {
    document.querySelectorAll("#revoke-form").forEach(fillRevoke);
    var all = document.getElementById("revoke-all-secret");
    if (all && !all.value) all.value = knownSecret("sandbox", all.getAttribute("data-channel"));
    document.querySelectorAll("#revoke-form, #verify-form, #try-form").forEach(offerTokens);
  }

  function onRender() {
    recordIssued();
    renderWallet();
    fillForms();
  }
  document.addEventListener("linetester:rendered", onRender);
  document.addEventListener("DOMContentLoaded", function () {
    onRender();
    restoreOnLoad();  // a reload of an in-place answer, or a language switch, shows that answer again
  });
  // Back or Forward onto a page the browser kept whole (bfcache): nothing to do; one it did not keep
  // reloads, and restoreOnLoad() puts the answer back from this tab's storage.
})();
