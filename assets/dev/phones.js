// Phone simulator: every text from the network is shown with textContent,
// never as HTML.
(function () {
  "use strict";
  var base = "/dev/phones/api";
  var phone = document.getElementById("phone");
  var inbox = document.getElementById("inbox");
  var to = document.getElementById("to");
  var text = document.getElementById("text");
  var status = document.getElementById("status");

  function item(m) {
    var li = document.createElement("li");
    var meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = "De " + m.from + " · " + new Date(m.received_at).toLocaleTimeString();
    var body = document.createElement("div");
    body.className = "text";
    body.textContent = m.text;
    li.appendChild(meta);
    li.appendChild(body);
    return li;
  }

  function refresh() {
    var n = phone.value.trim();
    if (!n) return;
    fetch(base + "/inbox/" + encodeURIComponent(n))
      .then(function (r) { return r.json(); })
      .then(function (list) {
        inbox.replaceChildren.apply(inbox, list.slice().reverse().map(item));
        list.forEach(function (m) {
          var known = Array.prototype.some.call(to.options, function (o) { return o.value === m.from; });
          if (known) to.value = m.from;
        });
      })
      .catch(function () {});
  }

  fetch(base + "/short-codes").then(function (r) { return r.json(); }).then(function (codes) {
    codes.forEach(function (c) {
      var o = document.createElement("option");
      o.value = c;
      o.textContent = c;
      to.appendChild(o);
    });
  });

  document.getElementById("send").addEventListener("click", function () {
    status.textContent = "Enviando…";
    fetch(base + "/send", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ from: phone.value.trim(), to: to.value, text: text.value })
    }).then(function (r) {
      return r.json().then(function (body) {
        status.textContent = r.ok ? "Enviado." : ("No enviado: " + body.error);
        if (r.ok) text.value = "";
      });
    }).catch(function () { status.textContent = "Error de red."; });
  });

  phone.addEventListener("change", refresh);
  refresh();
  setInterval(refresh, 1500);
})();
