"""Where credentials may go: the cluster admin's allowlist and what is refused whatever it says."""

from __future__ import annotations

import pytest

from jiradrift.api.credentials import CredentialsProblem, check_tenant_urls
from jiradrift.api.resources import JiraTenantSpec
from jiradrift.jira.auth import normalise_origin
from jiradrift.net.hosts import DEFAULT_ALLOWED_HOSTS, HostAllowlist, HostRefused

DEFAULT = HostAllowlist()
EMULATOR = HostAllowlist.parse("127.0.0.1,localhost")


def refusal(allowlist: HostAllowlist, url: str, field: str = "spec.site") -> HostRefused:
    with pytest.raises(HostRefused) as err:
        allowlist.check(url, field)
    return err.value


def test_default_is_the_atlassian_cloud_hosts_of_sites_gateway_and_token_endpoint() -> None:
    assert DEFAULT.entries == DEFAULT_ALLOWED_HOSTS == ("*.atlassian.net", "api.atlassian.com", "auth.atlassian.com")
    for url in ("https://acme.atlassian.net", "https://api.atlassian.com", "https://auth.atlassian.com/oauth/token"):
        DEFAULT.check(url, "spec.site")


@pytest.mark.parametrize(
    ("url", "reason", "text"),
    [
        ("https://evil.example", "HostNotAllowed", "not on the operator's host allowlist"),
        ("https://atlassian.net", "HostNotAllowed", "not on the operator's host allowlist"),
        ("https://acme.atlassian.net.evil.example", "HostNotAllowed", "not on the operator's host allowlist"),
        ("https://169.254.169.254", "HostNotAllowed", "link-local"),
        ("https://[fe80::1]", "HostNotAllowed", "link-local"),
        ("https://10.1.2.3", "HostNotAllowed", "private"),
        ("https://kubernetes", "HostNotAllowed", "single-label"),
        ("https://jira.tools.svc.cluster.local", "HostNotAllowed", "cluster-internal"),
        ("https://metadata.google.internal", "HostNotAllowed", "cluster-internal"),
        ("http://127.0.0.1:8080", "HostNotAllowed", "not on the operator's host allowlist"),
        ("http://acme.atlassian.net", "InsecureURL", "plain http"),
        ("https://Acme.atlassian.net", "NonCanonicalURL", "'https://acme.atlassian.net'"),
        ("https://acme.atlassian.net:443", "NonCanonicalURL", "'https://acme.atlassian.net'"),
        ("https://user@acme.atlassian.net", "NonCanonicalURL", "user info"),
        ("https://acme.atlassian.net/?x=1", "NonCanonicalURL", "query"),
        ("ftp://acme.atlassian.net", "InvalidURL", "not an https URL"),
    ],
)
def test_refused_urls_name_the_field_and_the_fix(url: str, reason: str, text: str) -> None:
    err = refusal(DEFAULT, url, "spec.apiGateway")
    assert err.reason == reason
    assert err.message.startswith("spec.apiGateway") and text in err.message, err.message


def test_loopback_only_when_the_admin_names_it_and_never_by_wildcard() -> None:
    EMULATOR.check("http://127.0.0.1:8080", "spec.site")
    EMULATOR.check("http://localhost:8080/jira", "spec.site")
    assert refusal(EMULATOR, "https://acme.atlassian.net").reason == "HostNotAllowed"
    assert not HostAllowlist.parse("*.0.1").allows_host("127.0.0.1")


@pytest.mark.parametrize(
    "entry", ["*.net", "*", "10.0.0.1", "169.254.169.254", "kubernetes", "*.svc.cluster.local", "a b/c", ""]
)
def test_an_admin_cannot_allow_internal_or_too_wide_hosts(entry: str) -> None:
    with pytest.raises(ValueError, match=r"allowed host|empty"):
        HostAllowlist.parse([entry])


def test_the_client_canonicalises_the_origin_so_case_and_default_port_are_not_foreign() -> None:
    assert normalise_origin("https://Acme.Atlassian.net:443/rest/api/3/", "site URL") == "https://acme.atlassian.net"
    assert normalise_origin("https://jira.example.com:8443/jira", "site URL") == "https://jira.example.com:8443/jira"


def test_every_url_of_a_tenant_is_checked_before_its_secret_is_read() -> None:
    spec = JiraTenantSpec.model_validate(
        {
            "site": "https://acme.atlassian.net",
            "auth": {"oauth": {"secretRef": {"name": "s"}, "tokenUrl": "https://evil.example/token"}},
        }
    )
    with pytest.raises(CredentialsProblem) as err:
        check_tenant_urls(DEFAULT, spec)
    assert err.value.reason == "HostNotAllowed" and "spec.auth.oauth.tokenUrl" in err.value.message
    gateway = spec.model_copy(update={"api_gateway": "https://169.254.169.254"})
    with pytest.raises(CredentialsProblem, match=r"spec\.apiGateway"):
        check_tenant_urls(DEFAULT, gateway)
    # an API token goes to the site only: the (unused) gateway is not what decides
    basic = JiraTenantSpec.model_validate(
        {"site": "https://acme.atlassian.net", "auth": {"apiToken": {"secretRef": {"name": "s"}}}}
    )
    check_tenant_urls(HostAllowlist.parse("*.atlassian.net"), basic)
