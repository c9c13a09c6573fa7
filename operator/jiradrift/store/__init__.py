"""Where snapshot payloads live: the SnapshotStore protocol and its backends."""
