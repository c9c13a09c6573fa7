"""The reading boundary: an API object (the API server's JSON) into its resource model, once.

    tenant = read_object(JiraTenant, body)        # raises InvalidObject naming the field
    tenant.metadata.key, tenant.spec.site, tenant.status.token.expires_at if tenant.status ...
    fresh = find(tenant.status.conditions, "TokenFresh")      # api.conditions.find

The models refuse unknown fields (``extra="forbid"``): that keeps what the operator *writes* exact.
Reading must be more tolerant than writing, in two places:

- ``metadata`` belongs to the API server: :class:`~jiradrift.api.resources.ObjectMeta` ignores the
  fields it does not name.
- ``status`` may have been written by another version of the operator (a newer one adds a field, an
  older one left a value this version no longer accepts). A status that does not validate is read
  leniently: unknown fields are ignored, a value that does not validate is left out (its default,
  if it has one), and everything else is kept. So reading never fails because of status.

``spec`` is the user's intent: a spec the CRD admitted but the model refuses is an
:class:`InvalidObject` naming the field (``spec.auth.oauth.tokenUrl is invalid (...); fix the
JiraTenant``), as the callers reported it before they read models.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from jiradrift.api.resources import JiraTenant, SiteComparison, Snapshot

log = logging.getLogger("jiradrift.api")

M = TypeVar("M", bound=BaseModel)


class InvalidObject(ValueError):
    """An object whose spec (or metadata) the model refuses: which object, which field, what is wrong."""

    def __init__(self, kind: str, key: str, field: str, problem: str, loc: tuple[int | str, ...] = ()) -> None:
        self.kind = kind
        self.key = key
        self.field = field
        self.problem = problem
        self.loc = loc  # pydantic's location of the field, within spec for a spec field
        self.message = f"{field} is invalid ({problem}); fix the {kind}"
        super().__init__(f"{kind} {key}: {self.message}")


def read_object(model: type[M], body: Mapping[str, Any]) -> M:
    """``body`` as ``model``; a status that does not validate is read leniently (see the module doc)."""
    if body.get("spec") is None and "spec" in model.model_fields:
        body = {**body, "spec": {}}  # "spec.site is invalid (Field required)", not "spec is invalid"
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors()
    refused = next((e for e in errors if e["loc"][:1] != ("status",)), None)
    if refused is not None:
        meta = body.get("metadata") or {}
        loc = [str(part) for part in refused["loc"]]
        field = "spec." + ".".join(loc[1:]) if loc[:1] == ["spec"] else ".".join(loc)
        raise InvalidObject(
            model.__name__,
            f"{meta.get('namespace', '')}/{meta.get('name', '')}",
            field,
            refused["msg"],
            tuple(refused["loc"][1:] if loc[:1] == ["spec"] else refused["loc"]),
        ) from None
    if all(e["type"] == "extra_forbidden" for e in errors):
        # The common case (a newer operator's fields): without them, one more validation reads it.
        status = body["status"]
        for error in errors:
            status = _without(status, error["loc"][1:])
        try:
            return model.model_validate({**body, "status": status})
        except ValidationError:
            pass
    status_model = _model_in(model.model_fields["status"].annotation)
    obj = model.model_validate({k: v for k, v in body.items() if k != "status"})
    status = _lenient(status_model, body["status"]) if status_model is not None else None
    log.debug("%s %s: status read leniently (%d field(s) did not validate)", model.__name__, obj_key(obj), len(errors))
    return obj.model_copy(update={"status": status})


def obj_key(obj: BaseModel) -> str:
    meta = getattr(obj, "metadata", None)
    return str(getattr(meta, "key", "?"))


def wire_time(value: datetime | None) -> str | None:
    """A time as the operator writes it into status (RFC 3339, ``Z``): the string it was read from."""
    return None if value is None else str(_adapter(datetime).dump_python(value, mode="json"))


def involved(obj: JiraTenant | Snapshot | SiteComparison) -> dict[str, Any]:
    """The object as an Event's ``involvedObject`` needs it (:func:`jiradrift.kube.events.event_body`)."""
    meta = obj.metadata
    return {
        "apiVersion": obj.api_version,
        "kind": obj.kind,
        "metadata": {"name": meta.name, "namespace": meta.namespace, "uid": meta.uid},
    }


def owner_of(obj: JiraTenant | Snapshot | SiteComparison) -> dict[str, Any]:
    """The object as an owner reference names it (the store's objects are owned by it)."""
    return {"apiVersion": obj.api_version, "kind": obj.kind, "name": obj.metadata.name, "uid": obj.metadata.uid}


# --- lenient reading of status ---------------------------------------------------------------

_SKIP = object()


def _without(data: Any, path: Sequence[int | str]) -> Any:
    """``data`` without the entry at ``path``; only the containers on the path are copied."""
    if not path:
        return data
    head, rest = path[0], path[1:]
    if isinstance(data, Mapping) and isinstance(head, str) and head in data:
        copy: Any = dict(data)
    elif isinstance(data, list) and isinstance(head, int) and 0 <= head < len(data):
        copy = list(data)
    else:
        return data
    if rest:
        copy[head] = _without(data[head], rest)
    else:
        del copy[head]
    return copy


def _lenient(model: type[M], data: Any) -> M | None:
    """``data`` as ``model``, keeping what validates and leaving out what does not."""
    if not isinstance(data, Mapping):
        return None
    try:
        return model.model_validate(data)
    except ValidationError:
        pass
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        value = _lenient_value(info.annotation, data[key]) if key in data else _SKIP
        if value is not _SKIP:
            values[name] = value
        elif info.is_required():  # as a Go client reads a field it cannot: its type's zero value
            values[name] = _zero(info.annotation)
    return model.model_construct(**values)


def _zero(annotation: Any) -> Any:
    inner = _without_none(annotation)
    if isinstance(inner, type) and issubclass(inner, str | int | float | bool | list) and not issubclass(inner, Enum):
        return inner()
    return None


def _lenient_value(annotation: Any, value: Any) -> Any:
    try:
        return _adapter(annotation).validate_python(value)
    except ValidationError:
        pass
    model = _model_in(annotation)
    if model is not None and isinstance(value, Mapping):
        return _lenient(model, value)
    item = _list_item(annotation)
    if item is not None and isinstance(value, list):
        kept = [_lenient_value(item, v) for v in value]
        return [v for v in kept if v is not _SKIP and v is not None]
    return _SKIP


@cache
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        return rest[0] if len(rest) == 1 else annotation
    return annotation


def _model_in(annotation: Any) -> type[BaseModel] | None:
    inner = _without_none(annotation)
    return inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None


def _list_item(annotation: Any) -> Any:
    inner = _without_none(annotation)
    return get_args(inner)[0] if get_origin(inner) is list else None
