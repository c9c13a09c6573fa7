"""The data model: manifests, drift reports, kinds, ignore rules and the snapshot store protocol.

The bottom layer: imports nothing else from jiradrift but ``redact``.
"""
