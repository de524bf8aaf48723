// Live reload: the server pushes its snapshot version over server-sent events; a page built from
// another version reloads. Served as a file so the page's CSP can forbid inline scripts.
(function () {
  "use strict";
  var current = document.body.dataset.version;
  var badge = document.getElementById("live");
  if (!window.EventSource || !current) return;
  var source = new EventSource("/events");
  source.addEventListener("version", function (event) {
    if (badge) badge.classList.add("on");
    if (event.data !== current) {
      source.close();
      window.location.reload();
    }
  });
  source.onerror = function () {
    if (badge) badge.classList.remove("on");
  };
})();
