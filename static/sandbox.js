/* Sandbox console: carry the public key, kid, channel ID and channel secret between steps in
   this tab, and remember the channels created in this browser (their IDs only, in localStorage),
   so the server never has to list channels to anyone. A channel's secret is kept in this tab's
   sessionStorage only (never localStorage, never a URL): opening a remembered channel posts it
   with the open form. Without JavaScript every form still works: the secret is typed once and
   carried in the answers' hidden fields. No inline scripts (CSP). */
(function () {
  "use strict";
  var STORE = "lineTester.";
  var CHANNELS = STORE + "sandboxChannels";

  function savedChannels() {
    try {
      var list = JSON.parse(localStorage.getItem(CHANNELS) || "[]");
      return Array.isArray(list) ? list.filter(function (id) { return /^[0-9]{10}$/.test(id); }) : [];
    } catch (e) { return []; }
  }
  function saveChannels(list) {
    try { localStorage.setItem(CHANNELS, JSON.stringify(list.slice(0, 50))); } catch (e) { /* storage off */ }
  }
  function remember(id) {
    var list = savedChannels().filter(function (x) { return x !== id; });
    list.unshift(id);
    saveChannels(list);
  }
  function forget(id) {
    saveChannels(savedChannels().filter(function (x) { return x !== id; }));
  }
  function setSession(name, value) {
    try { sessionStorage.setItem(STORE + name, value); } catch (e) { /* storage off */ }
  }
  function getSession(name) {
    try { return sessionStorage.getItem(STORE + name); } catch (e) { return null; }
  }
  function secretOf(id) { return getSession("sandboxSecret." + id); }
  function dataOf(selector, attr) {
    var el = document.querySelector(selector);
    return el ? el.getAttribute(attr) : null;
  }

  // What the server just did, announced through data attributes.
  function recordResults() {
    var created = dataOf("#created-channel", "data-channel-id");
    if (created) { remember(created); setSession("channelId", created); setSession("target", "sandbox"); }
    var opened = dataOf("#open-channel", "data-channel-id");
    if (opened) {
      setSession("channelId", opened);
      var secret = document.getElementById("channel_secret");
      if (secret && secret.value) setSession("sandboxSecret." + opened, secret.value);
    }
    var kid = dataOf("#registered-key", "data-kid");
    if (kid) {
      setSession("kid", kid);
      setSession("channelId", dataOf("#registered-key", "data-channel-id"));
      setSession("kidChannel." + kid, dataOf("#registered-key", "data-channel-id"));  // jwt.js checks the pair
      setSession("target", "sandbox");
    }
    var deleted = dataOf("[data-deleted-channel]", "data-deleted-channel");
    if (deleted) {
      forget(deleted);
      try { sessionStorage.removeItem(STORE + "sandboxSecret." + deleted); } catch (e) { /* storage off */ }
    }
    var missing = dataOf("[data-missing-channel]", "data-missing-channel");
    if (missing) forget(missing);
  }

  function listChannels() {
    var section = document.getElementById("my-channels-section");
    var list = document.getElementById("my-channels");
    if (!section || !list) return;
    var form = document.querySelector("#open-channel-form form");
    var idField = document.getElementById("channel_id");
    var secretField = form && form.querySelector('input[name="channel_secret"]');
    if (!form || !idField || !secretField || list.ltBound) return;
    list.ltBound = true;  // once per list; a restored snapshot's copy holds buttons without their handlers
    list.textContent = "";
    savedChannels().forEach(function (id) {
      var li = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = id;
      button.setAttribute("data-open-channel", id);
      button.addEventListener("click", function () {
        idField.value = id;
        var secret = secretOf(id);
        secretField.value = secret || "";
        if (secret) { form.submit(); } else { secretField.focus(); }
      });
      li.appendChild(button);
      list.appendChild(li);
    });
    section.hidden = list.children.length === 0;
    // The ID typed or given in ?channel_id=: fill its secret when this tab has it.
    function fillSecret() {
      var secret = /^[0-9]{10}$/.test(idField.value) ? secretOf(idField.value) : null;
      if (secret && !secretField.value) secretField.value = secret;
    }
    idField.addEventListener("change", fillSecret);
    fillSecret();
  }

  // One click fills the textarea with the public key made on the key pair page.
  function offerPublicKey() {
    var button = document.getElementById("fill-public-key");
    var field = document.getElementById("public_key");
    var saved = null;
    try { saved = sessionStorage.getItem(STORE + "publicJwk"); } catch (e) { saved = null; }
    if (!button || !field || !saved || button.ltBound) return;
    button.ltBound = true;
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = saved;
      try { text = JSON.stringify(JSON.parse(saved), null, 2); } catch (e) { /* paste as it is */ }
      field.value = text;
      field.focus();
    });
  }

  function init() {
    recordResults();
    listChannels();
    offerPublicKey();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();  // loaded by static/flow.js after a console answer shown in place
  document.addEventListener("linetester:rendered", init);  // each in-place answer is a new console
})();
