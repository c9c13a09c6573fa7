"""The release path against a real OCI registry (the CNCF distribution registry on loopback): the
chart pushed with `helm push` and installed from `oci://`, an image pushed and resolved by digest,
both signed with cosign (a key pair made for the test) and verified against the registry, and a
tampered image (other content re-pushed under the signed tag) refused."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml
from tests.plugins.registry import Registry, start_registry

from .releaselib import run, scratch_repo

VERSION = "4.5.7"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX_OR_MANIFEST = f"{OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = scratch_repo(tmp_path_factory.mktemp("registry-release") / "repo")
    run(repo, "stamp.sh", VERSION)
    return repo


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory, signer_env: dict[str, str]) -> dict[str, str]:
    """A cosign key pair made for the test, with an empty password; and a second, foreign one."""
    out: dict[str, str] = {}
    for who in ("ours", "theirs"):
        d = tmp_path_factory.mktemp(f"cosign-{who}")
        proc = subprocess.run(
            [signer_env["JIRADRIFT_COSIGN_BIN"], "generate-key-pair"],
            cwd=d,
            env={**signer_env, "COSIGN_PASSWORD": "", "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        out[f"{who}_key"], out[f"{who}_pub"] = str(d / "cosign.key"), str(d / "cosign.pub")
    return out


def env_for(signer_env: dict[str, str], keys: dict[str, str], who: str = "ours") -> dict[str, str]:
    return {
        **signer_env,
        "JIRADRIFT_REGISTRY_PLAIN_HTTP": "1",
        "COSIGN_KEY": keys[f"{who}_key"],
        "COSIGN_PUB": keys[f"{who}_pub"],
        "COSIGN_PASSWORD": "",
    }


def helm(env: dict[str, str], *args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        [env["JIRADRIFT_HELM_BIN"], *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, f"helm {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def crane(env: dict[str, str], *args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        [env["JIRADRIFT_CRANE_BIN"], "--insecure", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"crane {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


def layer(path: Path, content: bytes) -> Path:
    """A one-file image layer (a tar), so each push has content of its own."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo("etc/jiradrift-release")
        info.size = len(content)
        t.addfile(info, io.BytesIO(content))
    path.write_bytes(buf.getvalue())
    return path


def push_image(env: dict[str, str], ref: str, content: bytes, tmp: Path) -> str:
    """Push a small image (scratch plus one layer) as ``ref``; its digest as the registry reports it."""
    crane(
        env,
        "append",
        "--new_layer",
        str(layer(tmp / f"{hashlib.sha256(content).hexdigest()}.tar", content)),
        "--new_tag",
        ref,
        "--oci-empty-base",
    )
    return crane(env, "digest", ref)


def test_the_chart_round_trips_through_the_registry(
    repo: Path, tmp_path: Path, oci_registry: Registry, signer_env: dict[str, str], keys: dict[str, str]
) -> None:
    env = env_for(signer_env, keys)
    tgz = Path(run(repo, "chart.sh", str(tmp_path / "dist"), env=env).strip().splitlines()[-1])
    ref = run(repo, "push-chart.sh", str(tgz), f"oci://{oci_registry.address}/jiradrift/charts", env=env).strip()
    repository = "jiradrift/charts/jira-drift-operator"
    assert ref.startswith(f"{oci_registry.address}/{repository}@sha256:")
    digest = ref.split("@", 1)[1]
    # the registry serves the chart at the version tag, with the digest helm printed
    assert oci_registry.digest(repository, VERSION, OCI_MANIFEST) == digest

    # pulled back byte for byte, and rendered straight from oci:// (what `helm install oci://` reads)
    pulled = tmp_path / "pulled"
    pulled.mkdir()
    oci = f"oci://{oci_registry.address}/{repository}"
    helm(env, "pull", oci, "--version", VERSION, "--plain-http", "--destination", str(pulled))
    assert (pulled / tgz.name).read_bytes() == tgz.read_bytes()
    rendered = helm(
        env,
        "template",
        "drift",
        f"{oci}@{digest}",
        "--plain-http",
        "--namespace",
        "jiradrift",
        "--kube-version",
        "1.36.3",
    )
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    (deployment,) = (d for d in docs if d["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(f":{VERSION}")

    # signed by digest, and verified against the registry with the test's public key
    run(repo, "sign.sh", ref, env=env)
    verified = json.loads(run(repo, "verify.sh", f"{oci}:{VERSION}".removeprefix("oci://"), env=env))
    assert verified[0]["critical"]["image"]["docker-manifest-digest"] == digest
    # a key that did not sign it is refused
    foreign = run(repo, "verify.sh", ref, env=env_for(signer_env, keys, "theirs"), check=False)
    assert "no matching signatures" in foreign


def test_a_signed_image_verifies_by_digest_and_a_tampered_one_is_refused(
    repo: Path, tmp_path: Path, oci_registry: Registry, signer_env: dict[str, str], keys: dict[str, str]
) -> None:
    env = env_for(signer_env, keys)
    tag = f"{oci_registry.address}/jiradrift/jira-drift-operator:{VERSION}"
    digest = push_image(env, tag, b"the released content\n", tmp_path)
    assert oci_registry.digest("jiradrift/jira-drift-operator", VERSION, INDEX_OR_MANIFEST) == digest
    signed = f"{tag.rsplit(':', 1)[0]}@{digest}"
    assert json.loads(crane(env, "manifest", signed))["mediaType"] == OCI_MANIFEST  # resolvable by digest

    out = run(repo, "sign.sh", signed, env=env)
    assert out.strip() == signed
    verified = json.loads(run(repo, "verify.sh", tag, env=env))
    assert [v["critical"]["image"]["docker-manifest-digest"] for v in verified] == [digest]
    # offline: with a key, cosign asks no transparency log and no TUF repository
    said = run(repo, "verify.sh", tag, env=env, check=False)
    assert "TUF" not in said and "signatures were verified against the specified public key" in said, said

    # signing by tag is refused: the tag could move between signing and use
    assert "sign by digest, never by tag" in run(repo, "sign.sh", tag, env=env, check=False)

    # tampering: other content pushed under the signed tag gets another digest, which nobody signed
    tampered = push_image(env, tag, b"a backdoor\n", tmp_path)
    assert tampered != digest
    refused = run(repo, "verify.sh", tag, env=env, check=False)
    assert "no signatures found" in refused or "no matching signatures" in refused, refused
    # the released digest itself still verifies: a pull by digest is unaffected by the moved tag
    assert (
        json.loads(run(repo, "verify.sh", signed, env=env))[0]["critical"]["image"]["docker-manifest-digest"] == digest
    )


def test_an_image_tarball_is_pushed_and_resolves_by_digest(
    repo: Path, tmp_path: Path, oci_registry: Registry, signer_env: dict[str, str], keys: dict[str, str]
) -> None:
    """push-image-tarball.sh: a saved image (what tools/build-image.sh writes) into the registry, by digest."""
    env = env_for(signer_env, keys)
    source = f"{oci_registry.address}/scratch/source:1"
    push_image(env, source, b"saved image\n", tmp_path)
    tar = tmp_path / "image.tar"
    crane(env, "pull", "--format", "tarball", source, str(tar))
    ref = run(repo, "push-image-tarball.sh", str(tar), f"{oci_registry.address}/jiradrift/from-tar:{VERSION}", env=env)
    ref = ref.strip()
    repository = "jiradrift/from-tar"
    assert ref.startswith(f"{oci_registry.address}/{repository}@sha256:")
    assert oci_registry.digest(repository, VERSION, INDEX_OR_MANIFEST) == ref.split("@", 1)[1]
    assert "push to a tag" in run(repo, "push-image-tarball.sh", str(tar), ref, env=env, check=False)


def test_the_registry_serves_tls_for_clients_that_insist(
    repo: Path, tmp_path: Path, signer_env: dict[str, str], keys: dict[str, str]
) -> None:
    """start_registry(tls=True): a certificate for the bind address, trusted by its CA file
    (what a node's containerd is given in hosts.toml); without it, the client refuses the registry."""
    env = {**signer_env, "HELM_REGISTRY_CONFIG": str(tmp_path / "registry.json")}
    tgz = Path(run(repo, "chart.sh", str(tmp_path / "dist"), env=env).strip().splitlines()[-1])
    with start_registry(tmp_path / "tls-registry", tls=True) as registry:
        assert registry.url.startswith("https://") and registry.ca is not None
        dest = f"oci://{registry.address}/charts"
        untrusted = subprocess.run(
            [env["JIRADRIFT_HELM_BIN"], "push", str(tgz), dest], env=env, capture_output=True, text=True, timeout=120
        )
        assert untrusted.returncode != 0 and "certificate" in untrusted.stderr, untrusted.stderr
        helm(env, "push", str(tgz), dest, "--ca-file", str(registry.ca))
        pulled = tmp_path / "pulled"
        pulled.mkdir()
        helm(
            env,
            "pull",
            f"{dest}/jira-drift-operator",
            "--version",
            VERSION,
            "--ca-file",
            str(registry.ca),
            "--destination",
            str(pulled),
        )
        assert (pulled / tgz.name).read_bytes() == tgz.read_bytes()
