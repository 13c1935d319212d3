"""The benchmark (``python -m bench.run``), its load generator and the reference app."""
