"""Training-set exports: JSON-LD documents per material, Croissant metadata, leak-free splits."""
