// smsgate admin page: asks for the token and shows the admin API's JSON
// (as text only). The token stays in this page's memory.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var token = "", view = "sessions";
  var out = document.getElementById("view"), err = document.getElementById("admin-error");
  function load() {
    if (!token) return;
    document.getElementById("view-title").textContent = view;
    fetch("/admin/api/" + view, { headers: { Authorization: "Bearer " + token } })
      .then(function (r) {
        if (r.status === 401) throw new Error("wrong token");
        return r.json();
      })
      .then(function (j) { err.textContent = ""; out.textContent = JSON.stringify(j, null, 2); })
      .catch(function (e) { err.textContent = String(e.message || e); out.textContent = ""; });
  }
  document.getElementById("token-form").addEventListener("submit", function (e) {
    e.preventDefault();
    token = document.getElementById("token").value;
    load();
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-view]"), function (b) {
    b.addEventListener("click", function () { view = b.getAttribute("data-view"); load(); });
  });
});
