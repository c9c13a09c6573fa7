"""The operator's runtime: the pieces ``handlers/registry.build_registry`` wires into kopf.

- ``kopf_setup``: kopf's settings and its API session (a bounded connection pool)
- ``notifier``: the drift-notification task beside the handlers
- ``caches``: the operator's own copies of the watched JiraTenants and Snapshots
- ``startup``: the metadata LIST that says when those caches are complete
- ``watch``: watch events in: to the caches, the ticker and the Snapshot runner
- ``runs``: running Snapshots, their backoff and retry timers
- ``membership``: this replica's shard and what happens when tenants move
- ``loops``: the tenant ticker and membership rounds, readiness and the liveness probe

When anything is due, and why, is decided in ``handlers/schedule.py``; these only do the I/O.
"""
