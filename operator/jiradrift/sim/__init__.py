"""A Jira Cloud emulator for tests, benchmarks and the demo.

```python
from jiradrift.sim import Emulator

with Emulator(size="small", seed=1).running() as jira:
    httpx.get(jira.api_url + "/field", auth=(jira.credentials.email, jira.credentials.api_token))
```

It serves a deterministic generated site with Jira's paging styles, caps, auth forms, rotating
OAuth refresh tokens, per-operation scopes, switchable faults and a request log. ``StsEmulator``
answers AWS STS ``AssumeRoleWithWebIdentity`` for the S3 store's cloud-identity tests.
"""

from jiradrift.sim.admin import MUTATIONS, Admin
from jiradrift.sim.clock import Clock, ManualClock, SystemClock
from jiradrift.sim.emulator import WRITE_CAPABLE_SCOPES, Emulator, RunningEmulator, read_only_scopes
from jiradrift.sim.errors import JiraError, OAuthError
from jiradrift.sim.faults import FaultRule, Faults
from jiradrift.sim.oauth import REUSE_WINDOW_S, AuthorizationServer
from jiradrift.sim.paging import PAGE_LIMITS, UNDOCUMENTED_CAP, limits_for
from jiradrift.sim.requestlog import RequestLog, RequestRecord
from jiradrift.sim.server import Credentials
from jiradrift.sim.site import Site
from jiradrift.sim.spec import SIZES, SiteSpec
from jiradrift.sim.sts import StsEmulator

__all__ = [
    "MUTATIONS",
    "PAGE_LIMITS",
    "REUSE_WINDOW_S",
    "SIZES",
    "UNDOCUMENTED_CAP",
    "WRITE_CAPABLE_SCOPES",
    "Admin",
    "AuthorizationServer",
    "Clock",
    "Credentials",
    "Emulator",
    "FaultRule",
    "Faults",
    "JiraError",
    "ManualClock",
    "OAuthError",
    "RequestLog",
    "RequestRecord",
    "RunningEmulator",
    "Site",
    "SiteSpec",
    "StsEmulator",
    "SystemClock",
    "limits_for",
    "read_only_scopes",
]
