"""``python -m api`` runs the atlas2d command line (the same as the ``atlas2d`` script)."""

from api.cli import main

main()
