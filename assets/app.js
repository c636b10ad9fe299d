// smsgate send page. Everything a phone sent is put in the page with
// textContent only, never innerHTML. Loaded with `defer` from /assets/
// (the Content-Security-Policy allows no inline script).
"use strict";

(function () {
  // ---- SMS cost: the same rules as crate::sms::measure (GET /api/measure) ----
  var GSM_DEFAULT =
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM_EXTENSION = "\f^{}\\[~]|€";

  function septetCost(ch) {
    if (ch === "\u001b") return 0;
    if (GSM_DEFAULT.indexOf(ch) >= 0) return 1;
    if (GSM_EXTENSION.indexOf(ch) >= 0) return 2;
    return 0;
  }

  function measure(text) {
    var chars = Array.from(text);
    var gsm = chars.every(function (c) { return septetCost(c) > 0; });
    var single = gsm ? 160 : 70, multi = gsm ? 153 : 67;
    var costs = chars.map(function (c) { return gsm ? septetCost(c) : c.length; });
    var units = costs.reduce(function (a, b) { return a + b; }, 0);
    var parts = 1, last = units;
    if (units > single) {
      parts = 1; last = 0;
      costs.forEach(function (n) {
        if (last + n > multi) { parts += 1; last = 0; }
        last += n;
      });
    }
    var limit = parts > 1 ? multi : single;
    return { encoding: gsm ? "gsm7" : "ucs2", parts: parts, units: units,
             units_left: Math.max(0, limit - last), chars: chars.length };
  }

  // ---- numbers: the same rules as web::numbers::normalize ----
  function normalize(typed) {
    var t = typed.trim(), plus = t.charAt(0) === "+";
    var rest = plus ? t.slice(1) : t;
    if (!/^[0-9 ().-]*$/.test(rest)) return null;
    var d = rest.replace(/[^0-9]/g, "");
    if (plus) return d.length >= 8 && d.length <= 15 && d.charAt(0) !== "0" ? "+" + d : null;
    if (d.length === 11 && d.charAt(0) === "1") d = d.slice(1);
    if (d.length !== 10) return null;
    return /^(809|829|849)/.test(d) ? "+1" + d : null;
  }

  window.smsgate = { measure: measure, normalize: normalize };

  document.addEventListener("DOMContentLoaded", function () {
    var lang = document.body.getAttribute("data-lang") === "en" ? "en" : "es";
    // The words come with the page, from the server's translation files
    // (locales/*.ftl): the script holds none of its own.
    var W = {};
    try { W = JSON.parse(document.body.getAttribute("data-words") || "{}"); } catch (e) { W = {}; }
    function word(code) { return Object.prototype.hasOwnProperty.call(W, code) ? W[code] : code; }
    function $(id) { return document.getElementById(id); }
    function el(tag, cls, text) {
      var e = document.createElement(tag);
      if (cls) e.className = cls;
      if (text !== undefined) e.textContent = text;
      return e;
    }

    var form = $("send-form"), toInput = $("to-input"), addBtn = $("add-recipient");
    var list = $("recipients"), toError = $("to-error"), text = $("text");
    var counter = $("counter"), formError = $("form-error"), sendBtn = $("send-button");
    var results = $("results"), resultList = $("result-list");
    var replies = $("replies"), repliesEmpty = $("replies-empty");
    var countdown = $("countdown"), ended = $("session-ended");
    var recipients = [], expiresAt = null, source = null, sending = false;

    // ---- recipients ----
    addBtn.hidden = false;
    toInput.required = false;
    function renderRecipients() {
      while (list.firstChild) list.removeChild(list.firstChild);
      recipients.forEach(function (n, i) {
        var li = el("li", "chip");
        li.appendChild(el("span", "", n));
        var rm = el("button", "remove", "×");
        rm.type = "button";
        rm.setAttribute("aria-label", W.remove + n);
        rm.addEventListener("click", function () {
          recipients.splice(i, 1); renderRecipients(); toInput.focus();
        });
        li.appendChild(rm);
        list.appendChild(li);
      });
    }
    function addTyped() {
      var bad = [];
      toInput.value.split(/[,;\n\t]+/).forEach(function (t) {
        if (!t.trim()) return;
        var n = normalize(t);
        if (n === null) bad.push(t.trim());
        else if (recipients.indexOf(n) < 0) recipients.push(n);
      });
      toInput.value = bad.join(", ");
      toError.textContent = bad.length ? W.invalid + bad.join(", ") : "";
      toInput.setAttribute("aria-invalid", bad.length ? "true" : "false");
      renderRecipients();
      return bad.length === 0;
    }
    addBtn.addEventListener("click", function () { addTyped(); toInput.focus(); });
    toInput.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === ",") { e.preventDefault(); addTyped(); }
    });
    toInput.addEventListener("input", function () {
      var v = toInput.value.trim();
      var ok = v === "" || v.split(/[,;]+/).every(function (t) { return !t.trim() || normalize(t) !== null; });
      toInput.setAttribute("aria-invalid", ok ? "false" : "true");
      toError.textContent = ok ? "" : W.invalid + v;
    });

    // ---- live counter ----
    function updateCounter() {
      var m = measure(text.value);
      counter.textContent = m.chars + " " + W.chars + " · " + m.parts + " " + W.sms +
        " (" + m.encoding.toUpperCase() + ", " + m.units_left + " " + W.left + ")";
      counter.setAttribute("data-parts", String(m.parts));
      counter.setAttribute("data-encoding", m.encoding);
    }
    text.addEventListener("input", updateCounter);
    updateCounter();

    // ---- results and the thread ----
    function recipientItem(r, message) {
      var li = el("li", "recipient");
      li.setAttribute("data-to", r.to);
      if (message) li.setAttribute("data-message", message);
      li.appendChild(el("span", "to", r.to));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("span", "short-code", r.short_code || "—"));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("span", "status status-" + r.status,
        word(r.status) + (r.reason ? ": " + word(r.reason) : "")));
      if (!r.can_reply && r.status !== "refused") {
        li.appendChild(document.createTextNode(" "));
        li.appendChild(el("span", "no-reply", W.cannot_reply));
      }
      return li;
    }
    // The last send's answer (refusals included, even those the session
    // does not keep, such as a recipient over its quota).
    function showResults(rs, message) {
      while (resultList.firstChild) resultList.removeChild(resultList.firstChild);
      rs.forEach(function (r) { resultList.appendChild(recipientItem(r, message)); });
      results.hidden = rs.length === 0;
    }
    function timeOf(iso) {
      var t = el("time", "", new Date(iso).toLocaleTimeString(lang));
      t.setAttribute("datetime", iso);
      return t;
    }
    function sentItem(m) {
      var li = el("li", "sent");
      li.setAttribute("data-message", m.id);
      li.appendChild(el("span", "from", W.you));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(timeOf(m.sent_at));
      li.appendChild(el("p", "text", m.text));
      var ul = el("ul", "thread-recipients");
      m.recipients.forEach(function (r) { ul.appendChild(recipientItem(r, m.id)); });
      li.appendChild(ul);
      return li;
    }
    function addReply(r) {
      var li = el("li", "reply");
      li.appendChild(el("span", "from", W.from + " " + r.from));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(timeOf(r.received_at));
      li.appendChild(el("p", "text", r.text));
      replies.appendChild(li);
      repliesEmpty.hidden = true;
    }
    // The whole conversation, in time order, as GET /api/session has it.
    function renderThread(s) {
      while (replies.firstChild) replies.removeChild(replies.firstChild);
      var items = [];
      s.messages.forEach(function (m) { items.push({ at: Date.parse(m.sent_at), sent: m }); });
      s.replies.forEach(function (r) { items.push({ at: Date.parse(r.received_at), reply: r }); });
      items.sort(function (a, b) { return a.at - b.at; });
      items.forEach(function (i) {
        if (i.sent) replies.appendChild(sentItem(i.sent)); else addReply(i.reply);
      });
      repliesEmpty.hidden = s.replies.length > 0;
    }
    function clearSession() {
      while (replies.firstChild) replies.removeChild(replies.firstChild);
      showResults([]);
      repliesEmpty.hidden = false;
      expiresAt = null;
      countdown.textContent = "";
    }
    function showEnded() {
      if (source) { source.close(); source = null; }
      clearSession();
      ended.hidden = false;
      ended.setAttribute("tabindex", "-1");
    }

    // ---- countdown (R4): reset by every sent or received message ----
    // The page keeps its own deadline: at zero it asks the server, so the
    // session ends on screen even when the live stream is gone (a phone
    // browser in the background drops it).
    var checking = false;
    function tick() {
      if (!expiresAt) return;
      var s = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
      countdown.textContent = W.ends_in + Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
      if (s === 0 && !checking) {
        checking = true;
        fetch("/api/session", { credentials: "same-origin" }).then(function (r) {
          if (r.status === 404) { showEnded(); return null; }
          return r.status === 200 ? r.json() : null;
        }).then(function (v) {
          // Still live (a reply the stream missed moved the deadline).
          if (v) { renderThread(v); setExpiry(v.expires_at); listen(); }
        }).catch(function () {}).then(function () { checking = false; });
      }
    }
    setInterval(tick, 1000);
    function setExpiry(iso) { expiresAt = Date.parse(iso); tick(); }

    // ---- live events (R3) ----
    function listen() {
      if (source) return;
      source = new EventSource("/api/session/events");
      source.addEventListener("reply", function (e) {
        var d = JSON.parse(e.data);
        addReply(d.reply);
        setExpiry(d.expires_at);
      });
      source.addEventListener("status", function (e) {
        setStatus(JSON.parse(e.data));
      });
      // Whatever changed before the stream (re)opened is read once: the
      // server ends a stream that fell too far behind, and the browser
      // reconnects.
      source.addEventListener("open", refreshSession);
      source.addEventListener("expired", showEnded);
      // A newer tab of this session took the live stream: this one stops
      // listening (its own deadline still ends the session on screen) and
      // listens again when it is looked at, rather than push the other out.
      source.addEventListener("reconnect", function () {
        if (source) { source.close(); source = null; }
        document.addEventListener("visibilitychange", function again() {
          if (document.visibilityState !== "visible") return;
          document.removeEventListener("visibilitychange", again);
          if (expiresAt) { refreshSession(); listen(); }
        });
      });
      source.onerror = function () {
        // The server ended the stream (shutdown or no session): check once.
        if (source && source.readyState === EventSource.CLOSED) source = null;
      };
    }

    // A status names its message and its number: the same number in
    // another message of the session keeps its own status.
    function setStatus(d) {
      var items = document.querySelectorAll("#result-list .recipient, #replies .recipient");
      Array.prototype.forEach.call(items, function (li) {
        if (li.getAttribute("data-to") !== d.to) return;
        var m = li.getAttribute("data-message");
        if (m && d.message_id && m !== d.message_id) return;
        var s = li.querySelector(".status");
        if (d.short_code) {
          // The conversation moved to a live short code (its modem was down).
          var c = li.querySelector(".short-code");
          if (c) c.textContent = d.short_code;
        }
        s.className = "status status-" + d.status;
        s.textContent = word(d.status) + (d.reason ? ": " + word(d.reason) : "");
      });
    }
    function refreshSession() {
      fetch("/api/session", { credentials: "same-origin" }).then(function (r) {
        if (r.status === 404) { if (expiresAt) showEnded(); return null; }
        return r.status === 200 ? r.json() : null;
      }).then(function (s) {
        if (!s) return;
        renderThread(s);
        setExpiry(s.expires_at);
      }).catch(function () {});
    }

    // On load: the live session, or, if the page was showing one that has
    // ended meanwhile (a reload after expiry), the ended notice once.
    function loadSession() {
      var hadSession = !!document.querySelector("#replies li");
      fetch("/api/session", { credentials: "same-origin" }).then(function (r) {
        if (r.status !== 200) {
          if (hadSession) showEnded(); else clearSession();
          return null;
        }
        return r.json();
      }).then(function (s) {
        if (!s) return;
        var last = s.messages[s.messages.length - 1];
        showResults(last ? last.recipients : [], last ? last.id : null);
        renderThread(s);
        setExpiry(s.expires_at);
        listen();
      }).catch(function () { /* the server-rendered state stays */ });
    }

    // ---- send ----
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (sending) return;
      formError.textContent = "";
      if (!addTyped()) { toInput.focus(); return; }
      if (recipients.length === 0) { toError.textContent = W.need_recipient; toInput.focus(); return; }
      sending = true; sendBtn.disabled = true;
      fetch("/api/send", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ to: recipients.slice(), text: text.value })
      }).then(function (r) {
        return r.json().then(function (body) { return { status: r.status, body: body }; });
      }).then(function (res) {
        if (res.status !== 202) {
          // 422: nobody could receive it; each number says why.
          if (res.body.recipients && res.body.recipients.length) showResults(res.body.recipients);
          formError.textContent = W.error + (res.body.error === "text_too_long" ? W.too_long : word(res.body.error));
          return;
        }
        ended.hidden = true;
        showResults(res.body.recipients, res.body.message);
        setExpiry(res.body.session.expires_at);
        refreshSession();
        listen();
        text.value = ""; updateCounter();
      }).catch(function () {
        formError.textContent = W.error + "—";
      }).then(function () { sending = false; sendBtn.disabled = false; });
    });

    loadSession();
  });
})();
