"""Compiled kernels for the 2D invariants and dedup: cell reduction, neighbour search, PDD row merging, EMD.

``atlas2d.embeddings.structure.invariants`` packs a batch of motifs into flat arrays (one
``positions`` array for all atoms, ``offsets`` marking where each motif starts) and calls
``batch_invariants`` once per batch: numba compiles it to machine code and runs the motifs
in parallel, each reduced, searched, averaged and merged on one core, so no Python runs per
structure or per atom on the hot path. The steps are also kernels of their own
(``reduce_cells``, ``neighbour_search``, ``collapse_rows``), sharing the per-motif
functions, for the torch path and the tests. The arithmetic is a
few thousand distances and a few sorts per atom; as interpreted numpy or padded torch it was
dominated by per-call overhead (2–3 ms a structure), compiled it takes microseconds.

The neighbour search is exact in float64: each atom gathers the periodic images within a
radius r of itself, and its result is accepted only when its farthest needed distance is at
most r; otherwise r grows by half and that atom gathers again. The torch
path in ``invariants.py`` (for CUDA) computes the same distances from clouds around each
motif's centre, which suit padded dense batches better.

Compiled code is cached on disk (``cache=True``), so only the first run after an install or
an edit pays the compilation (tens of seconds on a 2-core machine); later processes load it
in well under a second.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

GROWTH = 1.5
"""Factor by which an atom's search radius (a motif's cloud radius, in torch) grows when it did not hold all needed neighbours."""

SLACK = 1e-9
"""Lattice steps by which the ranges of translations tried are widened, so that rounding cannot drop an image on the search disc's edge."""

RADIUS_MARGIN = 1.15
"""The first search radius: this times the radius that holds the neighbours needed at the in-plane density.

Too small a guess costs one more pass; too large a guess costs every pass more points."""


@njit(cache=True, parallel=True, nogil=True)
def neighbour_search(
    lattices: np.ndarray,
    positions: np.ndarray,
    offsets: np.ndarray,
    kinds: np.ndarray,
    n_kinds: np.ndarray,
    k: int,
    k_element: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per atom: the k nearest distances in its 2D-periodic set, and the k_element nearest to each element.

    ``lattices`` (n × 2 × 2): each motif's reduced in-plane vectors (rows); ``positions``
    (atoms × 3): Cartesian, in the 2D convention; ``offsets`` (n + 1): where each motif's
    atoms start; ``kinds``: each atom's element as its rank among its motif's elements;
    ``n_kinds``: elements per motif. Returns ``blind`` (atoms × k) and ``resolved``
    (atoms × k_element · max elements; a motif with e elements fills the first k_element · e
    columns, element blocks in rank order).
    """
    total = positions.shape[0]
    width = k_element * max(1, n_kinds.max()) if n_kinds.size else k_element
    blind = np.empty((total, k))
    resolved = np.full((total, width), np.inf)
    for b in prange(offsets.size - 1):
        _motif_neighbours(lattices[b], positions, kinds, offsets[b], offsets[b + 1], n_kinds[b], k, k_element, blind, resolved)
    return blind, resolved


@njit(cache=True, parallel=True, nogil=True)
def batch_invariants(
    lattices: np.ndarray,
    positions: np.ndarray,
    offsets: np.ndarray,
    kinds: np.ndarray,
    n_kinds: np.ndarray,
    k: int,
    k_element: int,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """AMD and merged PDD rows of every cell of a batch, in one compiled pass over the cells.

    Per cell, on one core: Gauss-reduce the in-plane basis and move the atoms into it
    (``reduce_cells``), search each atom's neighbours (``neighbour_search``), average the
    sorted distances into the AMD and merge the PDD rows (``collapse_rows``). The per-atom
    distances live only in the cell's scratch arrays: the batch-wide atoms × k array that
    the separate kernels passed between them (60 MB for 2,000 cells) was written and read
    back through memory, and its pages faulted in, for nothing.

    ``lattices`` (n × 2 × 2): in-plane vectors, any basis; the rest as in ``neighbour_search``.
    Returns ``amds`` (n × k) and, packed as ``collapse_rows`` returns them, ``rows``,
    ``counts``, ``row_kinds`` and ``n_rows``.
    """
    total = positions.shape[0]
    width = k_element * max(1, n_kinds.max()) if n_kinds.size else k_element
    amds = np.zeros((offsets.size - 1, k))
    rows = np.empty((total, width))
    counts = np.zeros(total, dtype=np.int64)
    row_kinds = np.zeros(total, dtype=np.int64)
    n_rows = np.zeros(offsets.size - 1, dtype=np.int64)
    for b in prange(offsets.size - 1):
        start, end = offsets[b], offsets[b + 1]
        m = end - start
        reduced = _reduced_basis(lattices[b])
        cell = np.empty((m, 3))
        _wrap(reduced, positions[start:end], cell)
        blind = np.empty((m, k))
        resolved = np.full((m, width), np.inf)
        cell_kinds = kinds[start:end]
        _motif_neighbours(reduced, cell, cell_kinds, 0, m, n_kinds[b], k, k_element, blind, resolved)
        for i in range(m):
            for q in range(k):
                amds[b, q] += blind[i, q]
        for q in range(k):
            amds[b, q] /= m
        n_rows[b] = _collapse_motif(resolved, cell_kinds, 0, m, k_element * n_kinds[b], tolerance, rows, counts, row_kinds, start)
    return amds, rows, counts, row_kinds, n_rows


@njit(cache=True)
def _motif_neighbours(
    lattice: np.ndarray,
    positions: np.ndarray,
    kinds: np.ndarray,
    start: int,
    end: int,
    n_kind: int,
    k: int,
    k_element: int,
    blind: np.ndarray,
    resolved: np.ndarray,
) -> None:
    """``neighbour_search`` for the motif of atoms ``start:end``, written into ``blind`` and ``resolved``.

    Each atom gathers the images p_j + u·a + v·b within distance r of itself: for each motif
    atom j at height difference dz, only the (u, v) inside the in-plane disc of radius
    sqrt(r² - dz²) are tried, u over the disc's extent along a and, for each u, v over the
    chord of that line through the disc (solved exactly; ``SLACK`` widens both by a hair
    against rounding). The bounding parallelogram that was tried before held about twice the
    points the disc does. When the atom's
    k-th distance and each element's k_element-th are at most r, no image was missed; else r
    grows by ``GROWTH`` for that atom and it gathers again. The first r holds, at the
    motif's in-plane density (and each element's), about ``RADIUS_MARGIN``² times the
    neighbours needed.
    """
    m = end - start
    ax, ay, bx, by = lattice[0, 0], lattice[0, 1], lattice[1, 0], lattice[1, 1]
    det = ax * by - ay * bx
    area = abs(det)
    reach_u = math.hypot(bx, by) / area
    reach_v = math.hypot(ax, ay) / area
    bb = bx * bx + by * by
    per_kind = np.zeros(n_kind, dtype=np.int64)
    for i in range(start, end):
        per_kind[kinds[i]] += 1
    first = math.sqrt((k + 1) * area / (math.pi * m))
    for e in range(n_kind):
        first = max(first, math.sqrt((k_element + 1) * area / (math.pi * per_kind[e])))
    first *= RADIUS_MARGIN
    capacity = 0
    squares = np.empty(0)
    near_kinds = np.empty(0, dtype=np.int64)
    sorted_squares = np.empty(0)
    sorted_kinds = np.empty(0, dtype=np.int64)
    buckets = np.empty(0, dtype=np.int64)
    filled = np.zeros(n_kind, dtype=np.int64)
    for i in range(m):
        x, y, z = positions[start + i, 0], positions[start + i, 1], positions[start + i, 2]
        row = start + i
        radius = first
        while True:
            needed = m * (2 * int(radius * reach_u) + 3) * (2 * int(radius * reach_v) + 3)
            if needed > capacity:
                capacity = needed
                squares = np.empty(capacity)
                near_kinds = np.empty(capacity, dtype=np.int64)
                sorted_squares = np.empty(capacity)
                sorted_kinds = np.empty(capacity, dtype=np.int64)
                buckets = np.empty(capacity + 1, dtype=np.int64)
            limit = radius * radius
            count = 0
            for j in range(m):
                dx = x - positions[start + j, 0]
                dy = y - positions[start + j, 1]
                dz = z - positions[start + j, 2]
                flat = limit - dz * dz
                if flat < 0.0:
                    continue
                disc = math.sqrt(flat)
                fu = (dx * by - dy * bx) / det
                for u in range(int(math.ceil(fu - disc * reach_u - SLACK)), int(math.floor(fu + disc * reach_u + SLACK)) + 1):
                    wx = dx - u * ax
                    wy = dy - u * ay
                    along = wx * bx + wy * by
                    chord = along * along - bb * (wx * wx + wy * wy - flat)
                    if chord < 0.0:
                        continue
                    half = math.sqrt(chord)
                    for v in range(int(math.ceil((along - half) / bb - SLACK)), int(math.floor((along + half) / bb + SLACK)) + 1):
                        ex = wx - v * bx
                        ey = wy - v * by
                        square = ex * ex + ey * ey + dz * dz
                        if square <= limit and not (j == i and u == 0 and v == 0):
                            squares[count] = square
                            near_kinds[count] = kinds[start + j]
                            count += 1
            exact = count >= k
            if exact:
                _sort_pairs(squares, near_kinds, count, limit, sorted_squares, sorted_kinds, buckets)
                filled[:] = 0
                for q in range(count):
                    e = sorted_kinds[q]
                    if filled[e] < k_element:
                        resolved[row, e * k_element + filled[e]] = math.sqrt(sorted_squares[q])
                        filled[e] += 1
                for e in range(n_kind):
                    exact = exact and filled[e] == k_element
            if exact:
                for q in range(k):
                    blind[row, q] = math.sqrt(sorted_squares[q])
                break
            radius *= GROWTH


@njit(cache=True)
def _sort_pairs(
    keys: np.ndarray,
    values: np.ndarray,
    count: int,
    limit: float,
    sorted_keys: np.ndarray,
    sorted_values: np.ndarray,
    buckets: np.ndarray,
) -> None:
    """The first ``count`` keys (all in [0, limit]) and their values, sorted by key into ``sorted_*``.

    Squared distances within a disc are spread about evenly over [0, limit] (the area
    within d grows as d²), so one bucket per key leaves the buckets nearly sorted, and an
    insertion sort finishes in about linear time. A general sort spent twice as long as the
    rest of the search on these short lists, full of equal distances.
    """
    buckets[: count + 1] = 0
    scale = count / limit
    for p in range(count):
        buckets[min(int(keys[p] * scale), count - 1) + 1] += 1
    for b in range(count):
        buckets[b + 1] += buckets[b]
    for p in range(count):
        b = min(int(keys[p] * scale), count - 1)
        sorted_keys[buckets[b]] = keys[p]
        sorted_values[buckets[b]] = values[p]
        buckets[b] += 1
    for p in range(1, count):
        key, value = sorted_keys[p], sorted_values[p]
        q = p - 1
        while q >= 0 and sorted_keys[q] > key:
            sorted_keys[q + 1] = sorted_keys[q]
            sorted_values[q + 1] = sorted_values[q]
            q -= 1
        sorted_keys[q + 1] = key
        sorted_values[q + 1] = value


@njit(cache=True, parallel=True, nogil=True)
def collapse_rows(
    resolved: np.ndarray, offsets: np.ndarray, kinds: np.ndarray, n_kinds: np.ndarray, k_element: int, tolerance: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each motif's PDD: its atoms' rows ordered by (element, distances), equal rows merged.

    A row joins the one before it when both centres are of the same element and the rows
    differ by at most ``tolerance`` in every entry (Chebyshev); the sort takes entries within
    ``tolerance`` as equal, so that equal rows end up next to each other. A merged row is the
    mean of its atoms' rows, which does not depend on the order of the atoms (the first row
    of the group, as before, did: up to ``tolerance`` between two cells of one structure).

    Returns, packed like the input (a motif's merged rows first in its slot of atoms):
    ``rows``, ``counts`` (atoms per row), ``row_kinds`` (the centre's element rank) and
    ``n_rows`` per motif.
    """
    total, width = resolved.shape
    rows = np.empty((total, width))
    counts = np.zeros(total, dtype=np.int64)
    row_kinds = np.zeros(total, dtype=np.int64)
    n_rows = np.zeros(offsets.size - 1, dtype=np.int64)
    for b in prange(offsets.size - 1):
        start, end = offsets[b], offsets[b + 1]
        n_rows[b] = _collapse_motif(resolved, kinds, start, end, k_element * n_kinds[b], tolerance, rows, counts, row_kinds, start)
    return rows, counts, row_kinds, n_rows


@njit(cache=True)
def _collapse_motif(
    resolved: np.ndarray,
    kinds: np.ndarray,
    start: int,
    end: int,
    used: int,
    tolerance: float,
    rows: np.ndarray,
    counts: np.ndarray,
    row_kinds: np.ndarray,
    out: int,
) -> int:
    """``collapse_rows`` for the atoms ``start:end`` (their first ``used`` columns), written from row ``out`` on.

    Returns the number of rows written."""
    order = _sorted_rows(resolved, kinds, start, end, used, tolerance)
    n = 0
    for q in range(end - start):
        i = order[q]
        joins = n > 0 and kinds[i] == row_kinds[out + n - 1]
        if joins:
            for j in range(used):
                if not abs(resolved[i, j] - resolved[order[q - 1], j]) <= tolerance:
                    joins = False
                    break
        if joins:
            counts[out + n - 1] += 1
            rows[out + n - 1, :used] += resolved[i, :used]
        else:
            rows[out + n, :used] = resolved[i, :used]
            counts[out + n] = 1
            row_kinds[out + n] = kinds[i]
            n += 1
    for r in range(out, out + n):
        rows[r, :used] /= counts[r]
    return n


@njit(cache=True)
def _sorted_rows(resolved: np.ndarray, kinds: np.ndarray, start: int, end: int, used: int, tolerance: float) -> np.ndarray:
    """Atom indices ``start:end`` ordered by element, then lexicographically by their rows (``_row_before``; stable merge sort)."""
    order = np.arange(start, end)
    spare = np.empty_like(order)
    n = end - start
    step = 1
    while step < n:
        for low in range(0, n, 2 * step):
            mid = min(low + step, n)
            high = min(low + 2 * step, n)
            i, j, out = low, mid, low
            while i < mid and j < high:
                if _row_before(resolved, kinds, order[j], order[i], used, tolerance):
                    spare[out] = order[j]
                    j += 1
                else:
                    spare[out] = order[i]
                    i += 1
                out += 1
            while i < mid:
                spare[out] = order[i]
                i += 1
                out += 1
            while j < high:
                spare[out] = order[j]
                j += 1
                out += 1
        order, spare = spare, order
        step *= 2
    return order


@njit(cache=True)
def _row_before(resolved: np.ndarray, kinds: np.ndarray, a: int, b: int, used: int, tolerance: float) -> bool:
    """Whether atom a's (element, row) sorts before atom b's, entries within ``tolerance`` counting as equal.

    Comparing exact values let noise far below the tolerance (rounding, or 1e-5 Å in the
    coordinates of a relaxed cell) decide between two rows that are equal in one entry, and
    interleave two groups of equal rows in the sorted order, so that neither group merged
    into one row: 5 of the first 40 poscar2d monolayers kept up to 7 rows for 2 orbits.
    """
    if kinds[a] != kinds[b]:
        return kinds[a] < kinds[b]
    for j in range(used):
        difference = resolved[a, j] - resolved[b, j]
        if difference < -tolerance:
            return True
        if difference > tolerance:
            return False
    return False


@njit(cache=True, parallel=True, nogil=True)
def local_kinds(codes: np.ndarray, offsets: np.ndarray, n_codes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each atom's element rank within its motif, from batch-wide element codes (alphabetical);
    elements per motif; and each motif's element codes in rank order (motifs × ``n_codes``,
    ``n_codes`` past its last)."""
    kinds = np.empty_like(codes)
    n_kinds = np.zeros(offsets.size - 1, dtype=np.int64)
    element_codes = np.full((offsets.size - 1, n_codes), n_codes, dtype=np.int64)
    for b in prange(offsets.size - 1):
        rank = np.full(n_codes, -1, dtype=np.int64)
        for i in range(offsets[b], offsets[b + 1]):
            rank[codes[i]] = 0
        n = 0
        for c in range(n_codes):
            if rank[c] == 0:
                rank[c] = n
                element_codes[b, n] = c
                n += 1
        for i in range(offsets[b], offsets[b + 1]):
            kinds[i] = rank[codes[i]]
        n_kinds[b] = n
    return kinds, n_kinds, element_codes


@njit(cache=True, parallel=True, nogil=True)
def reduce_cells(lattices: np.ndarray, positions: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's in-plane basis Lagrange-Gauss reduced (its two shortest independent vectors),
    and its atoms moved into the reduced cell in-plane (height kept).

    A reduced cell keeps a motif compact, so the search meets fewer translations per atom.
    ``lattices``: n × 2 × 2 (rows a, b); returns the reduced n × 2 × 2 and the moved positions.
    """
    reduced = np.empty_like(lattices)
    moved = positions.copy()
    for b in prange(offsets.size - 1):
        reduced[b] = _reduced_basis(lattices[b])
        _wrap(reduced[b], positions[offsets[b] : offsets[b + 1]], moved[offsets[b] : offsets[b + 1]])
    return reduced, moved


@njit(cache=True)
def _reduced_basis(lattice: np.ndarray) -> np.ndarray:
    """The Lagrange-Gauss reduced basis (2 × 2, rows) of the in-plane ``lattice``: its two shortest independent vectors."""
    ax, ay, bx, by = lattice[0, 0], lattice[0, 1], lattice[1, 0], lattice[1, 1]
    if ax * ax + ay * ay > bx * bx + by * by:
        ax, ay, bx, by = bx, by, ax, ay
    for _ in range(1000):
        mu = np.rint((ax * bx + ay * by) / (ax * ax + ay * ay))
        bx, by = bx - mu * ax, by - mu * ay
        if bx * bx + by * by >= ax * ax + ay * ay:
            break
        ax, ay, bx, by = bx, by, ax, ay
    reduced = np.empty((2, 2))
    reduced[0, 0], reduced[0, 1], reduced[1, 0], reduced[1, 1] = ax, ay, bx, by
    return reduced


@njit(cache=True)
def _wrap(reduced: np.ndarray, positions: np.ndarray, moved: np.ndarray) -> None:
    """``positions`` moved in-plane into the cell of ``reduced`` (fractional coordinates in [0, 1)), height kept, into ``moved``."""
    ax, ay, bx, by = reduced[0, 0], reduced[0, 1], reduced[1, 0], reduced[1, 1]
    det = ax * by - ay * bx
    for i in range(positions.shape[0]):
        x, y = positions[i, 0], positions[i, 1]
        u = (x * by - y * bx) / det
        v = (ax * y - ay * x) / det
        u -= math.floor(u)
        v -= math.floor(v)
        moved[i, 0] = u * ax + v * bx
        moved[i, 1] = u * ay + v * by
        moved[i, 2] = positions[i, 2]


@njit(cache=True)
def transport_cost(cost: np.ndarray, supply: np.ndarray, demand: np.ndarray) -> float:
    """The least total cost of moving integer ``supply`` (one per row) onto integer ``demand``
    (one per column) of equal total: a transportation problem, solved exactly by successive
    shortest paths.

    Each step sends as much as it can along the cheapest path (Dijkstra over the residual
    graph, costs made non-negative by node potentials) from a row with mass left to a column
    still short; a step empties a row, fills a column or cancels an earlier flow, so a PDD
    pair of a few dozen rows takes a few dozen steps of (rows + columns)² work. The same
    optimum as an assignment problem over one copy per unit of mass, without making the copies.
    """
    ra, rb = cost.shape
    flow = np.zeros((ra, rb), dtype=np.int64)
    left = supply.astype(np.int64)
    short = demand.astype(np.int64)
    pa = np.zeros(ra)
    pb = np.empty(rb)
    for j in range(rb):
        pb[j] = cost[0, j]
        for i in range(1, ra):
            pb[j] = min(pb[j], cost[i, j])
    da = np.empty(ra)
    db = np.empty(rb)
    via_a = np.empty(ra, dtype=np.int64)
    via_b = np.empty(rb, dtype=np.int64)
    done_a = np.empty(ra, dtype=np.bool_)
    done_b = np.empty(rb, dtype=np.bool_)
    remaining = left.sum()
    while remaining > 0:
        for i in range(ra):
            da[i] = 0.0 if left[i] > 0 else np.inf
            via_a[i] = -1
            done_a[i] = False
        for j in range(rb):
            db[j] = np.inf
            done_b[j] = False
        target = -1
        while target < 0:
            best = np.inf
            node = -1
            row_side = True
            for i in range(ra):
                if not done_a[i] and da[i] < best:
                    best, node, row_side = da[i], i, True
            for j in range(rb):
                if not done_b[j] and db[j] < best:
                    best, node, row_side = db[j], j, False
            if row_side:
                done_a[node] = True
                for j in range(rb):
                    if not done_b[j]:
                        d = best + cost[node, j] + pa[node] - pb[j]
                        if d < db[j]:
                            db[j] = d
                            via_b[j] = node
            else:
                done_b[node] = True
                if short[node] > 0:
                    target = node
                else:
                    for i in range(ra):
                        if not done_a[i] and flow[i, node] > 0:
                            d = best - cost[i, node] + pb[node] - pa[i]
                            if d < da[i]:
                                da[i] = d
                                via_a[i] = node
        reach = db[target]
        for i in range(ra):
            pa[i] += min(da[i], reach)
        for j in range(rb):
            pb[j] += min(db[j], reach)
        amount = short[target]
        j = target
        while True:
            i = via_b[j]
            if via_a[i] < 0:
                amount = min(amount, left[i])
                break
            j = via_a[i]
            amount = min(amount, flow[i, j])
        short[target] -= amount
        j = target
        while True:
            i = via_b[j]
            flow[i, j] += amount
            if via_a[i] < 0:
                left[i] -= amount
                break
            j = via_a[i]
            flow[i, j] -= amount
        remaining -= amount
    total = 0.0
    for i in range(ra):
        for j in range(rb):
            if flow[i, j] > 0:
                total += flow[i, j] * cost[i, j]
    return total


@njit(cache=True, parallel=True, nogil=True)
def pdd_transport(
    rows: np.ndarray,
    counts: np.ndarray,
    codes: np.ndarray,
    starts: np.ndarray,
    widths: np.ndarray,
    kinds: np.ndarray,
    pairs: np.ndarray,
    mismatch: float,
) -> np.ndarray:
    """The EMD of each pair of packed PDDs (``pairs``: P × 2 indices), Chebyshev between rows.

    PDD n has rows ``starts[n]:starts[n + 1]`` of ``rows`` (its first ``widths[n]`` columns),
    their atom ``counts`` and centre species ``codes``; ``kinds[n]`` names its element set
    and k, and PDDs of different kinds are infinitely far apart. Rows of different species
    cost ``mismatch``. Weights are counts over the cell's atoms (divided by their gcd, which
    undoes supercells); with L the lcm of the two cells' reduced atom counts the masses
    become integers and ``transport_cost`` is exact.
    """
    result = np.empty(pairs.shape[0])
    for p in prange(pairs.shape[0]):
        a, b = pairs[p, 0], pairs[p, 1]
        if kinds[a] != kinds[b]:
            result[p] = np.inf
            continue
        a0, a1, b0, b1 = starts[a], starts[a + 1], starts[b], starts[b + 1]
        cost = np.empty((a1 - a0, b1 - b0))
        for i in range(a0, a1):
            for j in range(b0, b1):
                if codes[i] != codes[j]:
                    cost[i - a0, j - b0] = mismatch
                else:
                    far = 0.0
                    for c in range(widths[a]):
                        far = max(far, abs(rows[i, c] - rows[j, c]))
                    cost[i - a0, j - b0] = far
        ga = _gcd_of(counts[a0:a1])
        gb = _gcd_of(counts[b0:b1])
        size_a = counts[a0:a1].sum() // ga
        size_b = counts[b0:b1].sum() // gb
        copies = size_a * size_b // _gcd(size_a, size_b)
        supply = counts[a0:a1] // ga * (copies // size_a)
        demand = counts[b0:b1] // gb * (copies // size_b)
        result[p] = transport_cost(cost, supply, demand) / copies
    return result


@njit(cache=True)
def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


@njit(cache=True)
def _gcd_of(values: np.ndarray) -> int:
    g = 0
    for v in values:
        g = _gcd(g, v)
    return g
