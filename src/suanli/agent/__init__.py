"""The agent a compute center runs next to its cluster, and its executors (backends)."""
