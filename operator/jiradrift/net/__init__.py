"""Network policy shared by every outbound client: one home, one name for each.

The bottom layer under ``jira/``, ``kube/``, ``store/``, ``notify/`` and ``tokens/``; it imports
nothing of the project but ``redact``. Each module holds one concept:

- :mod:`jiradrift.net.backoff`: the one retry-delay formula (capped exponential, multiplicative jitter).
"""
