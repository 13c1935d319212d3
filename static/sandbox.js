/* Sandbox console: carry the public key, kid and channel ID between steps in this tab,
   and remember the channels created in this browser (their IDs only, in localStorage),
   so the server never has to list channels to anyone. No inline scripts (CSP). */
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
  function dataOf(selector, attr) {
    var el = document.querySelector(selector);
    return el ? el.getAttribute(attr) : null;
  }

  // What the server just did, announced through data attributes.
  function recordResults() {
    var created = dataOf("#created-channel", "data-channel-id");
    if (created) { remember(created); setSession("channelId", created); setSession("target", "sandbox"); }
    var opened = dataOf("#open-channel", "data-channel-id");
    if (opened) { setSession("channelId", opened); }
    var kid = dataOf("#registered-key", "data-kid");
    if (kid) {
      setSession("kid", kid);
      setSession("channelId", dataOf("#registered-key", "data-channel-id"));
      setSession("target", "sandbox");
    }
    var deleted = dataOf("[data-deleted-channel]", "data-deleted-channel");
    if (deleted) forget(deleted);
    var missing = dataOf("[data-missing-channel]", "data-missing-channel");
    if (missing) forget(missing);
  }

  function listChannels() {
    var section = document.getElementById("my-channels-section");
    var list = document.getElementById("my-channels");
    if (!section || !list) return;
    var base = document.querySelector("#open-channel-form form").getAttribute("action");
    savedChannels().forEach(function (id) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = base + "?channel_id=" + encodeURIComponent(id);
      a.textContent = id;
      li.appendChild(a);
      list.appendChild(li);
    });
    section.hidden = list.children.length === 0;
  }

  // One click fills the textarea with the public key made on the key pair page.
  function offerPublicKey() {
    var button = document.getElementById("fill-public-key");
    var field = document.getElementById("public_key");
    var saved = null;
    try { saved = sessionStorage.getItem(STORE + "publicJwk"); } catch (e) { saved = null; }
    if (!button || !field || !saved) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = saved;
      try { text = JSON.stringify(JSON.parse(saved), null, 2); } catch (e) { /* paste as it is */ }
      field.value = text;
      field.focus();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    recordResults();
    listChannels();
    offerPublicKey();
  });
})();
