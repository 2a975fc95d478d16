// Rông dashboard: live updates. Each element with data-live="URL" listens to that
// server-sent event stream and takes each message as its new content.
(function () {
  document.querySelectorAll("[data-live]").forEach(function (el) {
    var es = new EventSource(el.getAttribute("data-live"));
    es.onmessage = function (ev) {
      el.innerHTML = ev.data;
      el.setAttribute("data-updated", String(Date.now()));
    };
    es.onerror = function () { el.setAttribute("data-live-error", "1"); };
  });
})();
