"""Command-line commands that read the cluster and the stores (``jiradrift snapshot``, ``drift``, ``diff``)."""
