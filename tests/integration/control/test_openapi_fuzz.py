"""Property-based API tests: schemathesis over the control plane's own ``/openapi.json``.

Every operation gets valid and invalid requests, anonymously and with a real admin
token, on SQLite: no 5xx, and only status codes the operation documents. Bounded (a few
examples per operation, derandomised) so the whole file runs in seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from guardian.control.api.middleware import RATE_LIMITS, RateLimits, TokenBuckets
from guardian.control.app import create_app
from guardian.control.context import ControlContext
from tests.control_helpers import actor, make_site, make_tenant

EXAMPLES = 8  # per operation and generation mode
# Endpoints whose success keeps the connection open (Server-Sent Events): called
# anonymously only, where they answer 401 at once.
STREAMING = {("GET", "/api/v1/events/stream")}
# Run last: they may end the admin's session.
SESSION_ENDING = ("/api/v1/auth/logout", "/api/v1/auth/refresh")


@dataclass
class Fuzz:
    client: TestClient
    schema: Any
    admin_headers: dict[str, str]


@pytest.fixture
def fuzz(sqlite_control_ctx: ControlContext) -> Iterator[Fuzz]:
    ctx = sqlite_control_ctx
    unlimited = TokenBuckets(1e9, 1e9)
    ctx.services[RATE_LIMITS] = RateLimits(api=unlimited, address=unlimited, login=unlimited)
    with TestClient(create_app(ctx), raise_server_exceptions=False) as client:
        tenant_id = make_tenant(ctx)
        make_site(ctx, tenant_id)
        admin = actor(ctx, client, tenant_id, "admin")
        document = client.get("/openapi.json").json()
        yield Fuzz(client, schemathesis.openapi.from_dict(document), admin.headers)


def operations(schema: Any, *, authenticated: bool) -> list[Any]:
    ops = [result.ok() for result in schema.get_all_operations()]
    if authenticated:
        ops = [op for op in ops if (op.method.upper(), op.path) not in STREAMING]
    return sorted(ops, key=lambda op: (op.path.startswith(SESSION_ENDING), op.path, op.method))


def send(client: TestClient, case: Any, headers: dict[str, str]) -> Any:
    """The case as a request through the app's own test client (one app, started once)."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    data = kwargs.pop("data", None)
    if isinstance(data, str | bytes):
        kwargs["content"] = data
    elif data is not None:
        kwargs["data"] = data
    for unused in ("timeout", "allow_redirects", "cookies"):  # no operation takes cookies
        kwargs.pop(unused, None)
    return client.request(**kwargs)


def fuzz_operation(fx: Fuzz, op: Any, headers: dict[str, str]) -> None:
    strategy = st.one_of(
        op.as_strategy(GenerationMode.POSITIVE), op.as_strategy(GenerationMode.NEGATIVE)
    )

    @settings(
        max_examples=EXAMPLES * 2,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        response = send(fx.client, case, headers)
        case.validate_response(response, checks=[not_a_server_error, status_code_conformance])

    check()


def run_all(fx: Fuzz, headers: dict[str, str], *, authenticated: bool) -> list[str]:
    failures = []
    for op in operations(fx.schema, authenticated=authenticated):
        try:
            fuzz_operation(fx, op, headers)
        except (Exception, BaseExceptionGroup) as exc:  # every failing route, not the first
            failures.append(f"{op.method.upper()} {op.path}: {str(exc)[:1500]}")
    return failures


def test_the_document_lists_the_issue_resources(fuzz: Fuzz) -> None:
    paths = set(fuzz.schema.raw_schema["paths"])
    for path in ("/api/v1/auth/login", "/api/v1/sites", "/api/v1/events", "/healthz"):
        assert path in paths, path
    assert len(operations(fuzz.schema, authenticated=False)) >= 10


def test_anonymous_calls_never_fail_and_answer_documented_codes(fuzz: Fuzz) -> None:
    failures = run_all(fuzz, {}, authenticated=False)
    assert not failures, "\n\n".join(failures)


def test_admin_calls_never_fail_and_answer_documented_codes(fuzz: Fuzz) -> None:
    failures = run_all(fuzz, fuzz.admin_headers, authenticated=True)
    assert not failures, "\n\n".join(failures)
