"""Speed and memory measurements; run ``python benchmarks/NAME.py`` or ``python -m benchmarks.NAME``."""
