"""Suanli (算力): an open platform for compute-power networks."""

__version__ = "0.1.0"
