"""Stands in for the dev-only ``kubernetes-validate`` in a bench's job process: the production image has none.

``kubernetes_asyncio`` imports its ``dynamic`` client on import, which imports ``kubernetes_validate``
when it is installed; that pulls in jsonschema's format checkers, whose ``rfc3987_syntax`` builds 38
lark grammars: about 5 s of CPU before the job's first request, in the dev virtualenv only (the
package is a ``dev`` extra, absent from the image the CronJob runs). ``bench/token_job_bench.py``
puts this directory first on the job's ``PYTHONPATH`` -- for the baseline's job and this tree's
alike -- so the bench times what the CronJob runs.
"""

raise ImportError("kubernetes-validate is a dev extra, not installed in the production image")
