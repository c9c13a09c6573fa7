"""Cross-site comparison: two sites' stored snapshots matched by natural key, offline."""
