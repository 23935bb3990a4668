// Live message timelines: the server renders the page; while the message is not final, this
// fetches the timeline fragment again every second and puts it in place. Without script the
// page still shows everything, with a link to reload it.
(function () {
  "use strict";
  var section = document.querySelector("[data-live]");
  if (!section) return;
  var url = section.getAttribute("data-live");
  function final() {
    return section.querySelector("[data-final='true']") !== null;
  }
  function poll() {
    if (final()) return;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null) section.innerHTML = html;
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 1000);
})();
