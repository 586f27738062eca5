"""``python -m atlas2d`` runs the atlas2d command line (the same as the ``atlas2d`` script)."""

from atlas2d.api.cli import main

main()
