"""One module per group of ``atlas2d`` commands; ``api.cli`` registers them."""
