"""Adapters to programs outside the product: Graphviz (DOT to SVG) and Typst (PDF)."""
