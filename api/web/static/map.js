// The fingerprint map as an interactive scatter (Chart.js): one colour per group, the
// entry on hover, its page on click. Data: #map-data, the PCA coordinates the server
// computed with atlas2d's project_2d.
(function () {
  "use strict";
  const holder = document.getElementById("map-data");
  const canvas = document.getElementById("fingerprint-map");
  if (!holder || !canvas || typeof Chart === "undefined") return;
  const points = JSON.parse(holder.textContent);
  const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  const groups = {};
  points.forEach(function (p) { (groups[p.group] || (groups[p.group] = [])).push(p); });
  const datasets = Object.keys(groups).sort().map(function (name, i) {
    return { label: name, data: groups[name], backgroundColor: COLOURS[i % COLOURS.length], pointRadius: 4, pointHoverRadius: 6 };
  });
  new Chart(canvas, {
    type: "scatter",
    data: { datasets: datasets },
    options: {
      animation: false, maintainAspectRatio: false,
      plugins: {
        tooltip: { callbacks: { label: function (context) { return context.raw.label; } } },
        legend: { position: "right" },
      },
      scales: { x: { title: { display: true, text: "principal axis 1" } }, y: { title: { display: true, text: "principal axis 2" } } },
      onHover: function (event, elements) { canvas.style.cursor = elements.length ? "pointer" : "default"; },
      onClick: function (event, elements) {
        if (!elements.length) return;
        const hit = elements[0];
        window.location.href = datasets[hit.datasetIndex].data[hit.index].href;
      },
    },
  });
  canvas.dataset.drawn = "true";
})();
