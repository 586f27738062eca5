"""Reading the source databases into the harmonized store: adapters, conventions, writer."""
