"""The outer interfaces of atlas2d: the ``atlas2d`` command line and the HTTP API."""
