"""Every CRD field has a description that ``kubectl explain`` shows, and the generator refuses a field
without one, naming it (``jiradrift crds`` and ``jiradrift crds --check``, which CI runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import Field

from jiradrift.api.resources import Resource
from jiradrift.generate.crds import UndescribedFields, build_crds, check_described, openapi_schema, undescribed

CRDS = Path(__file__).resolve().parents[2] / "crds"


@pytest.mark.parametrize("name", sorted(build_crds()))
def test_every_field_of_the_committed_crds_has_a_description(name: str) -> None:
    crd = yaml.safe_load((CRDS / name).read_text())
    (version,) = crd["spec"]["versions"]
    schema = version["schema"]["openAPIV3Schema"]
    assert undescribed(schema) == []
    # The walk reaches the leaves: status fields, list items and their fields.
    assert "status" in schema["properties"] and schema["properties"]["status"]["properties"]


class Inner(Resource):
    """An element."""

    described: int = Field(default=0, description="Has one.")
    bare: int = 0


class ProbeSpec(Resource):
    """The spec."""

    plain: str = ""
    inner: Inner = Field(default_factory=Inner, description="Described itself, not its field bare.")
    elements: list[Inner] = Field(default_factory=list, description="A list.")
    labels: dict[str, Inner] = Field(default_factory=dict, description="A map.")


class Probe(Resource):
    """A probe kind."""

    spec: ProbeSpec


def crd_of(schema: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"names": {"kind": "Probe"}, "versions": [{"schema": {"openAPIV3Schema": schema}}]}}


def test_a_field_without_a_description_is_named_with_its_path() -> None:
    schema = openapi_schema(Probe)
    assert undescribed(schema) == ["spec.plain", "spec.inner.bare", "spec.elements[].bare", "spec.labels{}.bare"]
    with pytest.raises(UndescribedFields) as refused:
        check_described({"probe.yaml": crd_of(schema)})
    message = str(refused.value)
    for path in ("Probe.spec.plain", "Probe.spec.inner.bare", "Probe.spec.elements[].bare", "Probe.spec.labels{}.bare"):
        assert path in message
    assert "description=" in message and "jiradrift crds" in message  # and the fix


def test_metadata_declares_only_its_type_because_the_api_server_refuses_more() -> None:
    # kube-apiserver: "metadata: Forbidden: must not specify anything other than name and generateName".
    for name, crd in build_crds().items():
        for version in crd["spec"]["versions"]:
            assert version["schema"]["openAPIV3Schema"]["properties"]["metadata"] == {"type": "object"}, name
