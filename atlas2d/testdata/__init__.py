"""Real-data builders shared by the tests and the benchmarks.

They read the team's real records in ``../shared/data`` beside a checkout (or wherever
``ATLAS2D_SHARED_DATA`` points), so they serve a development checkout, not an installed
wheel. They live in the package, not in ``tests/``, so that ``python benchmarks/X.py``
imports them without touching ``sys.path``.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
"""The checkout this package was installed from in editable mode."""

SHARED_DATA = Path(os.environ.get("ATLAS2D_SHARED_DATA", REPO.parent / "shared" / "data"))
"""The team's real records: C2DB, 2DMatPedia, MC2D, poscar2d, band-structure files."""
