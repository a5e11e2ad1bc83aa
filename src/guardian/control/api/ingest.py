"""Control plane API: event summaries ingested from relays (``POST /api/v1/ingest/events``).

A relay may ingest only for tenants assigned to it and only for sites of that tenant; any
other event is answered ``rejected`` with a reason while the rest of the batch proceeds.
"""

from __future__ import annotations

from collections import defaultdict

from fastapi import APIRouter, FastAPI
from sqlalchemy import select

from guardian.common.db import utcnow
from guardian.control.api.deps import ContextDep, RelayDep
from guardian.control.context import ControlContext
from guardian.control.inventory.ingest import UNKNOWN_SITE, tenant_sites, upsert_events
from guardian.control.inventory.schemas import (
    MAX_BATCH,
    EventSummaryIn,
    IngestBatch,
    IngestResponse,
    IngestResult,
)
from guardian.control.store.tables import RelayAssignment

router = APIRouter(prefix="/api/v1/ingest", tags=["ingest"])
NOT_ASSIGNED = "relay is not assigned to this tenant"

_EXAMPLE = {
    "events": [
        {
            "id": "5f0c6a53-8a8e-4c4e-9d0e-3f1b9a7c2d10",
            "tenant_id": "0b9d3c4e-1f2a-4b5c-8d6e-7f8091a2b3c4",
            "site_id": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
            "source_kind": "camera",
            "source_name": "front",
            "type": "interaction_detected",
            "label": "person",
            "zone": "shelf",
            "dwell_s": 4.5,
            "person_count": 1,
            "confidence": "high",
            "state": "ended",
            "started_at": "2026-03-01T09:00:00Z",
            "ended_at": "2026-03-01T09:00:06Z",
            "version": 2,
        }
    ]
}


@router.post(
    "/events",
    response_model=IngestResponse,
    summary="Ingest event summaries (relay token)",
    description=f"Upsert up to {MAX_BATCH} summaries by event id: `created`, `updated` (higher "
    "version), `unchanged` (same version), `stale` (lower version, ignored) or `rejected` "
    "(tenant not assigned to this relay, unknown site, id of another tenant). Unknown "
    "fields such as boxes or scores are refused with 422.",
    responses={401: {"description": "Unknown relay token"}, 422: {"description": "Invalid"}},
    openapi_extra={"requestBody": {"content": {"application/json": {"example": _EXAMPLE}}}},
)
def ingest_events(batch: IngestBatch, relay: RelayDep, ctx: ContextDep) -> IngestResponse:
    with ctx.db.system() as session:
        assigned = set(
            session.scalars(
                select(RelayAssignment.tenant_id).where(RelayAssignment.relay_id == relay.relay_id)
            )
        )
    results: dict[int, IngestResult] = {}
    by_tenant: dict[str, list[int]] = defaultdict(list)
    for index, summary in enumerate(batch.events):
        tenant_id = str(summary.tenant_id)
        if tenant_id in assigned:
            by_tenant[tenant_id].append(index)
        else:
            results[index] = IngestResult(
                id=str(summary.id), status="rejected", reason=NOT_ASSIGNED
            )
    now = utcnow()
    for tenant_id, indexes in by_tenant.items():
        with ctx.db.tenant(tenant_id) as session:
            summaries = [batch.events[i] for i in indexes]
            sites = tenant_sites(session, tenant_id, {str(s.site_id) for s in summaries})
            accepted: list[tuple[int, EventSummaryIn]] = []
            for index, summary in zip(indexes, summaries, strict=True):
                if str(summary.site_id) in sites:
                    accepted.append((index, summary))
                else:
                    results[index] = IngestResult(
                        id=str(summary.id), status="rejected", reason=UNKNOWN_SITE
                    )
            done = upsert_events(session, tenant_id, [s for _, s in accepted], now)
            results.update((index, r) for (index, _), r in zip(accepted, done, strict=True))
    return IngestResponse(results=[results[i] for i in range(len(batch.events))])


def install(app: FastAPI, ctx: ControlContext) -> None:
    """Nothing to attach: ingest is stateless."""
