// The material's structure in 3D with 3Dmol.js: an n x n supercell of the stored cell, the
// unit cell's edges, three drawing styles. Data: #structures-data (lattice rows and
// Cartesian positions in Å, species per site), written by the server.
(function () {
  "use strict";
  const holder = document.getElementById("structures-data");
  const element = document.getElementById("viewer");
  if (!holder || !element || typeof $3Dmol === "undefined") return;
  const structures = JSON.parse(holder.textContent);
  const viewer = $3Dmol.createViewer(element, { backgroundColor: "white", upscale: false });
  const choice = document.getElementById("structure-choice");
  const supercell = document.getElementById("supercell");
  const unitCell = document.getElementById("unit-cell");
  const style = document.getElementById("style");
  const STYLES = {
    ballstick: { stick: { radius: 0.12, colorscheme: "Jmol" }, sphere: { scale: 0.3, colorscheme: "Jmol" } },
    spheres: { sphere: { scale: 0.8, colorscheme: "Jmol" } },
    sticks: { stick: { radius: 0.18, colorscheme: "Jmol" } },
  };

  function add(u, v) { return [u[0] + v[0], u[1] + v[1], u[2] + v[2]]; }
  function scale(u, s) { return [u[0] * s, u[1] * s, u[2] * s]; }

  function xyz(structure, n) {
    const [a, b] = structure.lattice;
    const lines = [];
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const shift = add(scale(a, i), scale(b, j));
        structure.positions.forEach(function (p, k) {
          const q = add(p, shift);
          lines.push(structure.species[k] + " " + q[0].toFixed(5) + " " + q[1].toFixed(5) + " " + q[2].toFixed(5));
        });
      }
    }
    return lines.length + "\n" + structure.label + "\n" + lines.join("\n") + "\n";
  }

  function drawCell(lattice) {
    const [a, b, c] = lattice;
    const o = [0, 0, 0];
    const corners = [o, a, b, c, add(a, b), add(a, c), add(b, c), add(add(a, b), c)];
    const edges = [[0, 1], [0, 2], [0, 3], [1, 4], [1, 5], [2, 4], [2, 6], [3, 5], [3, 6], [4, 7], [5, 7], [6, 7]];
    edges.forEach(function (e) {
      const s = corners[e[0]], t = corners[e[1]];
      viewer.addCylinder({
        start: { x: s[0], y: s[1], z: s[2] }, end: { x: t[0], y: t[1], z: t[2] },
        radius: 0.04, color: "#444444", fromCap: 1, toCap: 1,
      });
    });
  }

  // Fit the atoms (not the cell, whose c axis is mostly vacuum) and tilt the layer a little,
  // so that its thickness shows as well as its in-plane pattern.
  function reset() {
    viewer.resize();
    viewer.zoomTo({});
    viewer.rotate(-25, { x: 1, y: 0, z: 0 });
  }

  function draw(resetView) {
    const structure = structures[choice ? Number(choice.value) : 0];
    const n = Number(supercell.value);
    viewer.removeAllModels();
    viewer.removeAllShapes();
    const model = viewer.addModel(xyz(structure, n), "xyz");
    viewer.setStyle({}, STYLES[style.value]);
    if (unitCell.checked) drawCell(structure.lattice);
    if (resetView) reset();
    viewer.render();
    element.dataset.atoms = String(model.selectedAtoms({}).length);
    element.dataset.entry = String(structure.entry_id);
  }

  [choice, supercell, style].forEach(function (control) {
    if (control) control.addEventListener("change", function () { draw(control === choice || control === supercell); });
  });
  unitCell.addEventListener("change", function () { draw(false); });
  document.getElementById("reset-view").addEventListener("click", function () { reset(); viewer.render(); });
  draw(true);
})();
