// smsgate admin page: asks for the token and shows the admin API's JSON
// (as text only). The token stays in this page's memory. API keys are
// made (their token and webhook secret shown this once) and revoked here;
// given-up webhook events are sent again.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var token = "", view = "sessions";
  var out = document.getElementById("view"), err = document.getElementById("admin-error");
  var made = document.getElementById("key-made");
  function api(method, path, body) {
    var init = { method: method, headers: { Authorization: "Bearer " + token } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch("/admin/api/" + path, init).then(function (r) {
      if (r.status === 401) throw new Error("wrong token");
      if (r.status === 204 || r.status === 202) return null;
      return r.json().then(function (j) {
        if (!r.ok) throw new Error((j && j.message) || ("HTTP " + r.status));
        return j;
      });
    });
  }
  function load() {
    if (!token) return;
    document.getElementById("view-title").textContent = view;
    document.getElementById("keys-tools").hidden = view !== "keys";
    document.getElementById("webhooks-tools").hidden = view !== "webhooks";
    api("GET", view)
      .then(function (j) { err.textContent = ""; out.textContent = JSON.stringify(j, null, 2); })
      .catch(function (e) { err.textContent = String(e.message || e); out.textContent = ""; });
  }
  function value(id) { return document.getElementById(id).value.trim(); }
  document.getElementById("token-form").addEventListener("submit", function (e) {
    e.preventDefault();
    token = document.getElementById("token").value;
    load();
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-view]"), function (b) {
    b.addEventListener("click", function () { view = b.getAttribute("data-view"); made.textContent = ""; load(); });
  });
  document.getElementById("key-form").addEventListener("submit", function (e) {
    e.preventDefault();
    api("POST", "keys", {
      name: value("key-name"),
      webhook_url: value("key-webhook") || null,
      mo_url: value("key-mo") || null
    }).then(function (k) {
      err.textContent = "";
      made.textContent = "Key " + k.name + ": token " + k.token + " · webhook secret " + k.webhook_secret +
        " (shown this once: copy them now)";
      load();
    }).catch(function (e) { err.textContent = String(e.message || e); });
  });
  document.getElementById("revoke-form").addEventListener("submit", function (e) {
    e.preventDefault();
    api("DELETE", "keys/" + encodeURIComponent(value("revoke-name")))
      .then(function () { err.textContent = ""; made.textContent = "Revoked."; load(); })
      .catch(function (e) { err.textContent = String(e.message || e); });
  });
  document.getElementById("resend-form").addEventListener("submit", function (e) {
    e.preventDefault();
    api("POST", "webhooks/" + encodeURIComponent(value("resend-id")) + "/resend")
      .then(function () { err.textContent = ""; load(); })
      .catch(function (e) { err.textContent = String(e.message || e); });
  });
});
