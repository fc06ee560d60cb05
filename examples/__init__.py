"""Example raystra projects, importable from the repository root (``examples.ecommerce``)."""
