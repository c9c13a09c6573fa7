"""The project's Kubernetes API: the custom resources (source of the CRDs), condition reasons,
schedule windows and the names they give Snapshots, the named locks on Leases, and how a tenant's Secret
becomes credentials."""
