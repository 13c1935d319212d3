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

  document.addEventListener("DOMContentLoaded", function () {
    setupCurl();
    setupVariants();
    setupKeyFill();
  });
})();
