// The impact dashboard's charts: Chart.js bars drawn from the JSON block the page carries
// (the CSP allows no inline script). Each chart has its table beside it, so nothing is lost
// without JavaScript.
(function () {
  "use strict";
  var COLOURS = ["#1f5f4a", "#8a3b12", "#1d4f91", "#6b4c9a"];

  function euros(value) {
    return new Intl.NumberFormat("fr-FR", { style: "currency", currency: "EUR" }).format(value);
  }

  function draw() {
    var block = document.getElementById("impact-data");
    if (!block || typeof window.Chart === "undefined") return;
    var charts = JSON.parse(block.textContent);
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var data = charts[canvas.dataset.chart];
      if (!data) return;
      new window.Chart(canvas, {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: data.datasets.map(function (set, i) {
            return { label: set.label, data: set.data, backgroundColor: COLOURS[i % COLOURS.length] };
          }),
        },
        options: {
          animation: false,
          locale: "fr-FR",
          scales: { y: { beginAtZero: true, ticks: { callback: euros } } },
          plugins: {
            tooltip: { callbacks: { label: function (item) { return item.dataset.label + " : " + euros(item.raw); } } },
          },
        },
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
