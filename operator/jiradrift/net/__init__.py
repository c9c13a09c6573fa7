"""Network policy shared by every outbound client: one home, one name for each.

The bottom layer under ``jira/``, ``kube/``, ``store/``, ``notify/`` and ``tokens/``; it imports
nothing else of the project. Each module holds one concept:

- :mod:`jiradrift.net.hosts`: which host names credentials may go to (the admin's allowlist);
- :mod:`jiradrift.net.egress`: which addresses those names may resolve to, and the HTTP hooks
  that connect to the checked address (also for the S3 and STS endpoints and an HTTPS proxy);
- :mod:`jiradrift.net.errors`: the egress policy's refusals;
- :mod:`jiradrift.net.tls`: the one verifying TLS context;
- :mod:`jiradrift.net.transport`: the one HTTP adapter (httpx over aiohttp) every outbound client
  sends through: Jira, the token endpoint, notifications, S3 and STS;
- :mod:`jiradrift.net.body`: reading a response body up to a byte bound;
- :mod:`jiradrift.net.backoff`: the one retry-delay formula (capped exponential, multiplicative jitter).
"""
