// Relais console: the live work queue. The server says when the queue changed (server-sent
// events); the page fetches the new lists and swaps them in, keeping what is being typed.
(function () {
  "use strict";
  var queue = document.getElementById("queue");
  if (!queue || !window.EventSource) { return; }
  var state = document.getElementById("live-state");
  var reloading = false;
  function typing() {
    var a = document.activeElement;
    return a && queue.contains(a) && a.tagName === "INPUT" && a.value !== "";
  }
  function reload() {
    if (reloading) { return; }
    if (typing()) { setTimeout(reload, 1000); return; }
    reloading = true;
    fetch(queue.dataset.list, { credentials: "same-origin" })
      // Sent to the sign-in page (the session ended): reload, which shows it whole.
      .then(function (r) { return r.ok && !r.redirected ? r.text() : Promise.reject(r.status); })
      .then(function (html) { queue.innerHTML = html; queue.dataset.updated = String(Date.now()); })
      .catch(function () { window.location.reload(); })
      .then(function () { reloading = false; });
  }
  var source = new EventSource(queue.dataset.live);
  source.addEventListener("ready", function () { document.body.classList.add("connected"); });
  source.addEventListener("queue", reload);
  source.onerror = function () { document.body.classList.remove("connected"); };
  if (state) { state.setAttribute("title", queue.dataset.live); }
})();
