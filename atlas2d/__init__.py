"""atlas2d: a database-centric knowledge platform for two-dimensional materials.

The subpackages live in the repository's top-level folders and are installed under this
namespace by the ``package-dir`` mapping in ``pyproject.toml`` (see docs/DEVELOPING.md).
"""
