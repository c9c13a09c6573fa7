"""Kubernetes plumbing: one async client and pager, merge patches, names, Events, the Lease algorithm,
and replica membership and sharding."""
