// Band structures with Chart.js: energies relative to the Fermi level along the k-path, a
// vertical line at every high-symmetry point (X|U where the path jumps), the Fermi level
// as a dashed red line. Data: #bands-data (per segment: k-distances in 1/Å and energies
// [spin][band][k] in eV), written by the server.
(function () {
  "use strict";
  const holder = document.getElementById("bands-data");
  if (!holder || typeof Chart === "undefined") return;
  const bands = JSON.parse(holder.textContent);
  const SPIN_COLOURS = ["#1f5fae", "#c2571a"];
  const WINDOW = 4.0;  // eV either side of the Fermi level, as the fingerprint pictures use

  function prepare(band) {
    const reference = band.fermi_level === null ? 0.0 : band.fermi_level;
    const ticks = [0];
    const labels = [band.labels.length ? band.labels[0][0] : ""];
    const lines = {};  // "spin:band" -> points
    let offset = 0;
    band.segments.forEach(function (segment, s) {
      const d = band.distances[s];
      const start = d[0];
      const jump = s > 0 && band.labels[s - 1][1] !== band.labels[s][0];
      if (jump) labels[labels.length - 1] = band.labels[s - 1][1] + "|" + band.labels[s][0];
      segment.forEach(function (spin, si) {
        spin.forEach(function (energies, bi) {
          const key = si + ":" + bi;
          const points = lines[key] || (lines[key] = []);
          if (jump && points.length) points.push({ x: offset, y: null });
          energies.forEach(function (e, k) { points.push({ x: offset + d[k] - start, y: e - reference }); });
        });
      });
      offset += d[d.length - 1] - start;
      ticks.push(offset);
      labels.push(band.labels[s][1]);
    });
    const datasets = Object.keys(lines).map(function (key) {
      const spin = Number(key.split(":")[0]);
      return { data: lines[key], borderColor: SPIN_COLOURS[spin % 2], borderWidth: 1.3, pointRadius: 0, spanGaps: false, tension: 0 };
    });
    datasets.push({ data: [{ x: 0, y: 0 }, { x: offset, y: 0 }], borderColor: "#c62828", borderDash: [6, 4], borderWidth: 1.2, pointRadius: 0, label: "Fermi level" });
    return { datasets: datasets, ticks: ticks, labels: labels, length: offset, hasFermi: band.fermi_level !== null };
  }

  document.querySelectorAll("canvas.band-plot").forEach(function (canvas) {
    const band = bands[Number(canvas.dataset.band)];
    const plot = prepare(band);
    new Chart(canvas, {
      type: "line",
      data: { datasets: plot.datasets },
      options: {
        animation: false, parsing: false, normalized: true, maintainAspectRatio: false,
        plugins: { legend: { display: false }, tooltip: { enabled: false } },
        scales: {
          x: {
            type: "linear", min: 0, max: plot.length,
            afterBuildTicks: function (axis) { axis.ticks = plot.ticks.map(function (v) { return { value: v }; }); },
            ticks: { autoSkip: false, maxRotation: 0, callback: function (value, index) { return plot.labels[index]; } },
            grid: { color: "#9aa3b0" },
          },
          y: {
            min: -WINDOW, max: WINDOW,
            title: { display: true, text: plot.hasFermi ? "E − E_F (eV)" : "E (eV)" },
            grid: { color: "#eef0f3" },
          },
        },
      },
    });
    canvas.dataset.drawn = "true";
  });
})();
