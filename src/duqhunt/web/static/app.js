// duqhunt serve: tell the analyst when a new hunt of the case has finished.
(function () {
  "use strict";
  var shown = document.body.getAttribute("data-finished");
  var banner = document.getElementById("new-run");
  if (!banner || !window.fetch) { return; }
  function check() {
    fetch("/api/run", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (run) {
        if (run && run.finished && run.finished !== shown) { banner.hidden = false; }
      })
      .catch(function () {});
  }
  setInterval(check, 3000);
})();
