// The docs page: one Swagger UI per provider, the view tabs, links from the equivalents.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("numspec-data").textContent);
  // Where nothing can be sent, credentials have no use: no Authorize button, no locks.
  var readOnly = {wrapComponents: {
    authorizeBtn: function () { return function () { return null; }; },
    authorizeOperationBtn: function () { return function () { return null; }; }
  }};
  data.providers.forEach(function (p) {
    var options = Object.assign({}, data.options, {
      spec: p.document,
      domNode: document.getElementById("ui-" + p.tag),
      presets: [SwaggerUIBundle.presets.apis],
      plugins: data.tryIt ? [] : [readOnly]
    });
    window["ui_" + p.tag] = SwaggerUIBundle(options);
  });
  var views = ["all", "equivalents"].concat(data.providers.map(function (p) { return p.tag; }));
  function show(view) {
    if (views.indexOf(view) < 0) { view = "all"; }
    document.body.dataset.view = view;
    document.querySelectorAll("nav.views button").forEach(function (b) {
      b.setAttribute("aria-selected", String(b.dataset.view === view));
    });
    document.querySelectorAll("section.provider").forEach(function (s) {
      s.hidden = !(view === "all" || view === s.dataset.provider);
    });
    document.querySelector("section.equivalents").hidden = view !== "equivalents";
  }
  document.querySelectorAll("nav.views button").forEach(function (b) {
    b.addEventListener("click", function () {
      show(b.dataset.view);
      history.replaceState(null, "", "#" + b.dataset.view);
    });
  });
  document.querySelectorAll("a.op-link").forEach(function (a) {
    a.addEventListener("click", function (event) {
      event.preventDefault();
      show(a.dataset.tag);
      var block = document.getElementById("operations-" + a.dataset.tag + "-" + a.dataset.op);
      if (!block) { return; }
      if (!block.classList.contains("is-open")) {
        var summary = block.querySelector(".opblock-summary-control") ||
          block.querySelector(".opblock-summary");
        if (summary) { summary.click(); }
      }
      block.scrollIntoView({block: "start"});
    });
  });
  document.getElementById("download").addEventListener("click", function (event) {
    var blob = new Blob([JSON.stringify(data.contract, null, 2) + "\n"], {type: "application/json"});
    event.currentTarget.href = URL.createObjectURL(blob);
  });
  show(location.hash.slice(1));
})();
