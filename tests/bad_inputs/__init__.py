"""The bad-input corpus (small files in this folder) and its generator (``corpus``)."""
