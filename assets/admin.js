// smsgate admin page: asks for the token and shows the admin API's JSON
// (as text only). The token stays in this page's memory. API keys are
// made (their token and webhook secret shown this once) and revoked here;
// given-up webhook events are sent again. On the modems view: USSD
// (balance, operator menus), lifting a SIM's reached caps, and a line per
// SIM that needs an eye (low or stale balance, a reached cap). Everything
// a modem or a network said is shown as text, never as markup. A table
// lists every short code, modem or SMPP bind, with its state.
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
    document.getElementById("modems-tools").hidden = view !== "modems";
    api("GET", view)
      .then(function (j) {
        err.textContent = ""; out.textContent = JSON.stringify(j, null, 2);
        if (view === "modems") modemTools(j);
      })
      .catch(function (e) { err.textContent = String(e.message || e); out.textContent = ""; });
  }
  function value(id) { return document.getElementById(id).value.trim(); }
  function fill(select, modems) {
    var keep = select.value;
    select.textContent = "";
    modems.forEach(function (m) {
      var o = document.createElement("option");
      o.value = m.short_code; o.textContent = m.short_code + " (" + m.state + ")";
      select.appendChild(o);
    });
    if (keep) select.value = keep;
  }
  // One row per short code, a modem's or an SMPP bind's: state, queue,
  // and for a bind its window, throughput and errors (text cells only).
  function codesTable(modems) {
    var body = document.querySelector("#codes tbody");
    body.textContent = "";
    modems.forEach(function (m) {
      var b = m.smpp, tr = document.createElement("tr");
      var errors = b ? b.errors + " (throttled " + b.throttled + ", binds " + b.binds + ")" : String(m.failed);
      [m.short_code, m.transport === "smpp" ? "SMPP " + (b ? b.system_id + "@" + b.smsc : "") : "modem " + m.port,
       m.state, String(m.queued), String(b ? b.submitted : m.sent),
       b ? b.in_flight + " / " + b.window : "—",
       b ? b.submits_per_second.toFixed(1) : "—",
       errors, m.last_error || ""].forEach(function (t, i) {
        var c = document.createElement(i === 0 ? "th" : "td");
        if (i === 0) c.scope = "row";
        c.textContent = t;
        tr.appendChild(c);
      });
      tr.className = m.state === "up" ? "" : "error";
      body.appendChild(tr);
    });
  }
  function modemTools(modems) {
    codesTable(modems);
    fill(document.getElementById("ussd-modem"), modems.filter(function (m) { return m.transport !== "smpp"; }));
    fill(document.getElementById("caps-modem"), modems);
    var alerts = document.getElementById("sim-alerts");
    alerts.textContent = "";
    modems.forEach(function (m) {
      var s = m.sim || {}, b = s.balance, lines = [];
      if (b && b.low) lines.push("balance low: " + b.amount + " (warning below " + b.warn + ")");
      if (b && b.stale) lines.push("balance stale: " + (b.error || "") + (b.raw ? " — answer: " + b.raw : ""));
      (s.reached || []).forEach(function (k) { lines.push(k + " cap reached (" + s.waiting_for_cap + " waiting)"); });
      lines.forEach(function (t) {
        var li = document.createElement("li");
        li.className = "error";
        li.textContent = m.short_code + ": " + t;
        alerts.appendChild(li);
      });
    });
  }
  document.getElementById("ussd-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var reply = document.getElementById("ussd-reply");
    reply.textContent = "…";
    api("POST", "modems/" + encodeURIComponent(value("ussd-modem")) + "/ussd", { code: value("ussd-code") })
      .then(function (a) {
        err.textContent = "";
        reply.textContent = a.reply + (a.session_open ? "\n\n(menu open: type your choice above)" : "");
        document.getElementById("ussd-code").value = "";
      })
      .catch(function (e) { reply.textContent = ""; err.textContent = String(e.message || e); });
  });
  document.getElementById("caps-form").addEventListener("submit", function (e) {
    e.preventDefault();
    api("POST", "modems/" + encodeURIComponent(value("caps-modem")) + "/caps/reset")
      .then(function () { err.textContent = ""; load(); })
      .catch(function (e) { err.textContent = String(e.message || e); });
  });
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
