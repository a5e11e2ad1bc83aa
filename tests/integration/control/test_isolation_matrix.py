"""Isolation matrix: every endpoint that takes a path id, called by another tenant's admin
and viewer with tenant A's real ids, answers 404 and changes nothing of A's.

Endpoints are enumerated from the app's OpenAPI document, so new ones are covered without
editing this file; request bodies come from the documented examples (else the schema).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from guardian.common.db import utcnow
from guardian.control.app import create_app
from guardian.control.context import ControlContext
from guardian.control.store.tables import TENANT_TABLES, Base, Event, EventNote, Tenant
from guardian.control.tenancy.cameras import create_or_touch_camera
from tests.control_helpers import actor, assign_relay, make_relay, make_site, make_tenant, make_user

METHODS = ("get", "post", "put", "patch", "delete")
PARAM = re.compile(r"{(\w+)}")
KINDS = ("site", "camera", "event", "note", "user")


def _kind(path: str, param: str) -> str | None:
    """Which of A's objects a path parameter names: by its name, else the segment before it."""
    word = param.removesuffix("_id")
    if param == "id":
        before = path.split("{id}")[0].rstrip("/").rsplit("/", 1)[-1]
        word = before
    word = word.removesuffix("s")
    return word if word in KINDS else None


def _resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    return schema


def _sample(schema: dict[str, Any], doc: dict[str, Any]) -> Any:
    """A value the schema accepts: its first example, else one built from its types."""
    schema = _resolve(schema, doc)
    for key in ("examples", "example", "const", "enum", "default"):
        if key in schema:
            value = schema[key]
            return value[0] if key in ("examples", "enum") and isinstance(value, list) else value
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [_resolve(o, doc) for o in schema[key]]
            usable = [o for o in options if o.get("type") != "null"] or options
            return _sample(usable[0], doc)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        # Required fields; a schema without any (a PATCH) gets all of them, so the request
        # is a real change rather than an empty one.
        names = schema.get("required") or list(props)
        return {name: _sample(props[name], doc) for name in names}
    if kind == "array":
        return [_sample(schema.get("items", {}), doc) for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return True
    fmt = schema.get("format")
    if fmt == "date-time":
        return utcnow().isoformat()
    if fmt == "uuid":
        return str(uuid.uuid4())
    return "x" * max(int(schema.get("minLength", 1)), 1)


def _body(operation: dict[str, Any], doc: dict[str, Any]) -> Any:
    content = operation.get("requestBody", {}).get("content", {})
    media = content.get("application/json")
    if media is None:
        return None
    if "example" in media:
        return media["example"]
    return _sample(media.get("schema", {}), doc)


def _query(operation: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    return {
        p["name"]: _sample(p.get("schema", {}), doc)
        for p in operation.get("parameters", [])
        if p.get("in") == "query" and p.get("required")
    }


def _a_objects(ctx: ControlContext, tenant: str) -> dict[str, str]:
    """Real objects of tenant A, one of each kind, by kind."""
    user_id, _email = make_user(ctx, tenant, "admin")
    site_id = make_site(ctx, tenant, "a shop")
    now = utcnow()
    with ctx.db.tenant(tenant) as s:
        camera_id = create_or_touch_camera(s, tenant, site_id, "front", now).id
        event_id, note_id = str(uuid.uuid4()), str(uuid.uuid4())
        s.add(
            Event(
                id=event_id,
                tenant_id=tenant,
                site_id=site_id,
                camera_id=camera_id,
                source_kind="camera",
                source_name="front",
                type="interaction_detected",
                label="person",
                zone="till",
                dwell_s=4.5,
                person_count=1,
                confidence="high",
                state="ended",
                started_at=now - dt.timedelta(minutes=1),
                ended_at=now,
                version=1,
                has_notes=True,
                search_text="person front till",
                created_at=now,
                updated_at=now,
            )
        )
        s.flush()
        s.add(
            EventNote(
                id=note_id,
                tenant_id=tenant,
                event_id=event_id,
                added_items=[{"item": "milk", "quantity": 1}],
                took_items=[],
                comment="ok",
                author_id=user_id,
                created_at=now,
                updated_at=now,
                version=1,
            )
        )
    return {
        "site": site_id,
        "camera": camera_id,
        "event": event_id,
        "note": note_id,
        "user": user_id,
    }


def _dump(ctx: ControlContext, tenant: str) -> dict[str, list[tuple[str, ...]]]:
    """Every row of tenant A (and every relay), as text, for a before/after comparison."""
    tables = Base.metadata.tables
    dump: dict[str, list[tuple[str, ...]]] = {}
    with ctx.db.system() as s:
        for name in (*TENANT_TABLES, "relays"):
            table = tables[name]
            query = select(table)
            if "tenant_id" in table.c:
                query = query.where(table.c.tenant_id == tenant)
            dump[name] = sorted(tuple(str(v) for v in row) for row in s.execute(query))
        dump["tenants"] = [
            tuple(str(v) for v in row)
            for row in s.execute(select(Tenant.__table__).where(Tenant.id == tenant))
        ]
    return dump


def _calls(doc: dict[str, Any], ids: dict[str, str]) -> list[tuple[str, str, Any, dict[str, Any]]]:
    """(method, url, body, query) for every operation with path ids, filled with A's ids."""
    calls = []
    for path, operations in doc["paths"].items():
        params = PARAM.findall(path)
        if not params:
            continue
        choices = [[ids[k]] if (k := _kind(path, p)) else list(ids.values()) for p in params]
        for method in METHODS:
            if method not in operations:
                continue
            for values in itertools.product(*choices):
                url = path
                for param, value in zip(params, values, strict=True):
                    url = url.replace(f"{{{param}}}", value)
                op = operations[method]
                calls.append((method, url, _body(op, doc), _query(op, doc)))
    return calls


def test_other_tenants_get_404_everywhere_and_change_nothing(control_ctx: ControlContext) -> None:
    ctx = control_ctx
    ctx.settings.http.rate_burst = 100_000  # the matrix is many calls from one address
    a, b = make_tenant(ctx, "a"), make_tenant(ctx, "b")
    relay_id, _token = make_relay(ctx)
    assign_relay(ctx, a, relay_id)
    with TestClient(create_app(ctx)) as client:
        intruders = [actor(ctx, client, b, "admin"), actor(ctx, client, b, "viewer")]
        ids = _a_objects(ctx, a)
        before = _dump(ctx, a)
        calls = _calls(client.app.openapi(), ids)  # type: ignore[attr-defined]
        assert {url.split("/")[3] for _m, url, _b, _q in calls} >= {"sites", "cameras"}
        wrong = []
        for intruder, (method, url, body, query) in itertools.product(intruders, calls):
            got = client.request(method, url, json=body, params=query, headers=intruder.headers)
            if got.status_code != 404:
                wrong.append(
                    f"{intruder.role} {method.upper()} {url}: {got.status_code} {got.text[:200]}"
                )
        after = _dump(ctx, a)
    assert not wrong, "\n".join(wrong)
    assert after == before
