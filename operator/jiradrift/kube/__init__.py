"""Kubernetes access: one async client, one pager, one conflict-retry helper, the API names."""
