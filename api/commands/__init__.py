"""One module per group of ``atlas2d`` commands; ``atlas2d.api.cli`` registers them."""
