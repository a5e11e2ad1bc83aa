"""The summariser: edge event JSON in, control plane summary out, with nothing else let through."""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardian.control.inventory.schemas import EventSummaryIn
from guardian.edge.events.interactions import Interaction, PersonBox
from guardian.edge.events.store import event_json
from guardian.edge.store.tables import Event
from guardian.relay.summarize import (
    HIGH_CONFIDENCE,
    MEDIUM_CONFIDENCE,
    SUMMARY_FIELDS,
    SummaryError,
    confidence_bucket,
    summarize,
)

TENANT = "0b9d3c4e-1f2a-4b5c-8d6e-7f8091a2b3c4"
SITE = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
T0 = dt.datetime(2026, 3, 1, 9, 0, 0, tzinfo=dt.UTC)
CAMERA_EVENT_ID = "5f0c6a53-8a8e-4c4e-9d0e-3f1b9a7c2d10"


def device_event() -> dict[str, Any]:
    """A capture interaction event exactly as the edge's ``record_sighting`` writes it."""
    times = {"cap-a": T0, "cap-b": T0 + dt.timedelta(seconds=4)}
    boxes = {
        "cap-a": (PersonBox(0.7312, (10.5, 20.5, 110.5, 220.5)),),
        "cap-b": (
            PersonBox(0.9134, (12.5, 22.5, 112.5, 222.5)),
            PersonBox(0.4411, (300.5, 20.5, 400.5, 230.5)),
        ),
    }
    state = Interaction(times, boxes, ({"model": "ssd", "sha256": "ab12", "runtime": "ov"},))
    event = Event(
        id="c3d1e6f0-1b2a-4c3d-8e9f-0a1b2c3d4e5f",
        type="interaction_detected",
        source_kind="device",
        source_id="pi-kitchen",
        started_at=state.started_at,
        ended_at=state.ended_at,
        person_count=state.person_count,
        best_score=round(state.best_score, 4),
        details=state.details(),
        created_at=T0,
        updated_at=T0,
        version=2,
    )
    return event_json(event)


def camera_event(**details: Any) -> dict[str, Any]:
    """A camera interaction event in the shape ``camera_store.apply_action`` writes."""
    base = {
        "camera": "front",
        "label": "person",
        "track_id": 17,
        "zones": ["door", "shelf"],
        "zone": "shelf",
        "dwell_s": 4.567,
        "state": "ended",
        "person_count": 1,
        "peak_person_count": 2,
        "best_at": "2026-03-01T09:00:03.250000+00:00",
        "key": "front/s1/t17/shelf/1",
    }
    base.update(details)
    return {
        "id": CAMERA_EVENT_ID,
        "type": "interaction_detected",
        "source_kind": "camera",
        "source_id": "front",
        "started_at": "2026-03-01T09:00:00+00:00",
        "ended_at": "2026-03-01T09:00:06.500000+00:00",
        "person_count": 2,
        "best_score": 0.8123,
        "details": base,
        "created_at": "2026-03-01T09:00:01+00:00",
        "updated_at": "2026-03-01T09:00:07+00:00",
        "version": 3,
    }


def detection_event(**details: Any) -> dict[str, Any]:
    """A camera detection event (``<label>_detected``): zones entered, no dwell."""
    event = camera_event(zone=None, dwell_s=None, state="active", label="car", **details)
    event["type"] = "car_detected"
    event["person_count"] = 0
    event["best_score"] = 0.62
    return event


def test_a_device_event_summary_has_every_field_and_only_those() -> None:
    summary = summarize(device_event(), tenant_id=TENANT, site_id=SITE)
    assert summary == {
        "id": "c3d1e6f0-1b2a-4c3d-8e9f-0a1b2c3d4e5f",
        "tenant_id": TENANT,
        "site_id": SITE,
        "source_kind": "device",
        "source_name": "pi-kitchen",
        "type": "interaction_detected",
        "label": "person",
        "zone": None,
        "dwell_s": None,
        "person_count": 2,
        "confidence": "high",
        "state": "ended",
        "started_at": "2026-03-01T09:00:00Z",
        "ended_at": "2026-03-01T09:00:04Z",
        "version": 2,
    }
    assert tuple(summary) == SUMMARY_FIELDS


def test_a_camera_interaction_summary_keeps_zone_dwell_label_and_state() -> None:
    summary = summarize(camera_event(), tenant_id=TENANT, site_id=SITE)
    assert summary == {
        "id": CAMERA_EVENT_ID,
        "tenant_id": TENANT,
        "site_id": SITE,
        "source_kind": "camera",
        "source_name": "front",
        "type": "interaction_detected",
        "label": "person",
        "zone": "shelf",
        "dwell_s": 4.6,
        "person_count": 2,
        "confidence": "high",
        "state": "ended",
        "started_at": "2026-03-01T09:00:00Z",
        "ended_at": "2026-03-01T09:00:06.500000Z",
        "version": 3,
    }


def test_a_detection_event_names_the_zone_entered_last() -> None:
    summary = summarize(detection_event(), tenant_id=TENANT, site_id=SITE)
    assert (summary["type"], summary["label"], summary["zone"]) == ("car_detected", "car", "shelf")
    assert (summary["dwell_s"], summary["state"], summary["confidence"]) == (
        None,
        "active",
        "medium",
    )
    assert summary["person_count"] == 0


def test_a_detection_event_outside_every_zone_has_no_zone() -> None:
    summary = summarize(detection_event(zones=[]), tenant_id=TENANT, site_id=SITE)
    assert summary["zone"] is None


def test_summaries_pass_the_control_planes_ingest_schema() -> None:
    for event in (device_event(), camera_event(), detection_event()):
        parsed = EventSummaryIn.model_validate(summarize(event, tenant_id=TENANT, site_id=SITE))
        assert str(parsed.id) == event["id"]


def test_times_are_reported_in_utc() -> None:
    event = camera_event()
    event["started_at"] = "2026-03-01T10:00:00+01:00"
    summary = summarize(event, tenant_id=TENANT, site_id=SITE)
    assert summary["started_at"] == "2026-03-01T09:00:00Z"


def test_summarize_does_not_change_its_input() -> None:
    event = camera_event()
    before = copy.deepcopy(event)
    summarize(event, tenant_id=TENANT, site_id=SITE)
    assert event == before


@pytest.mark.parametrize(
    ("score", "bucket"),
    [
        (0.0, "low"),
        (0.4999, "low"),
        (MEDIUM_CONFIDENCE, "medium"),
        (0.7499, "medium"),
        (HIGH_CONFIDENCE, "high"),
        (1.0, "high"),
        (1, "high"),
    ],
)
def test_confidence_buckets_split_at_one_half_and_three_quarters(score: float, bucket: str) -> None:
    assert confidence_bucket(score) == bucket


@pytest.mark.parametrize("score", [-0.01, 1.01, float("nan"), float("inf"), True, "0.9", None])
def test_a_score_outside_zero_to_one_is_refused(score: Any) -> None:
    with pytest.raises(SummaryError, match="score"):
        confidence_bucket(score)


@pytest.mark.parametrize(
    ("dwell", "expected"), [(4.04, 4.0), (4.05, 4.0), (4.06, 4.1), (0, 0.0), (12.349, 12.3)]
)
def test_dwell_is_rounded_to_a_tenth_of_a_second(dwell: float, expected: float) -> None:
    summary = summarize(camera_event(dwell_s=dwell), tenant_id=TENANT, site_id=SITE)
    assert summary["dwell_s"] == expected


def _without(event: dict[str, Any], *path: str) -> dict[str, Any]:
    event = copy.deepcopy(event)
    target = event
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return event


def _with(event: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    event = copy.deepcopy(event)
    target = event
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return event


BAD_EVENTS: list[tuple[str, dict[str, Any], str]] = [
    ("no id", _without(camera_event(), "id"), "id must be a UUID"),
    ("id not a uuid", _with(camera_event(), "evt-1", "id"), "id is not a UUID"),
    ("no source kind", _without(camera_event(), "source_kind"), "source_kind must be one of"),
    ("odd source kind", _with(camera_event(), "drone", "source_kind"), "source_kind"),
    ("no source id", _without(camera_event(), "source_id"), "source_id must be a non-empty"),
    ("blank source id", _with(camera_event(), "  ", "source_id"), "source_id"),
    ("long source id", _with(camera_event(), "x" * 65, "source_id"), "longer than 64"),
    ("no type", _without(camera_event(), "type"), "type must match"),
    ("odd type", _with(camera_event(), "Person Seen", "type"), "type must match"),
    ("no details", _without(camera_event(), "details"), "details must be a JSON object"),
    ("list details", _with(camera_event(), [], "details"), "details"),
    ("no started_at", _without(camera_event(), "started_at"), "started_at must be an ISO"),
    ("bad started_at", _with(camera_event(), "yesterday", "started_at"), "not an ISO 8601"),
    ("naive ended_at", _with(camera_event(), "2026-03-01T09:00:06", "ended_at"), "time zone"),
    ("end before start", _with(camera_event(), "2026-03-01T08:00:00Z", "ended_at"), "before"),
    ("no best score", _without(camera_event(), "best_score"), "best_score is missing"),
    ("score above one", _with(camera_event(), 1.5, "best_score"), "best_score"),
    ("no person count", _without(camera_event(), "person_count"), "person_count"),
    ("negative persons", _with(camera_event(), -1, "person_count"), "person_count must lie"),
    ("float persons", _with(camera_event(), 1.0, "person_count"), "person_count must be an"),
    ("bool persons", _with(camera_event(), True, "person_count"), "person_count"),
    ("no version", _without(camera_event(), "version"), "version must be an integer"),
    ("version zero", _with(camera_event(), 0, "version"), "version must lie"),
    ("huge version", _with(camera_event(), 2**31, "version"), "version must lie"),
    ("no camera state", _without(camera_event(), "details", "state"), "state must be one of"),
    ("odd state", _with(camera_event(), "paused", "details", "state"), "state"),
    ("negative dwell", _with(camera_event(), -1.0, "details", "dwell_s"), "dwell_s"),
    ("nan dwell", _with(camera_event(), float("nan"), "details", "dwell_s"), "dwell_s"),
    ("text dwell", _with(camera_event(), "4s", "details", "dwell_s"), "dwell_s"),
    ("long label", _with(camera_event(), "x" * 33, "details", "label"), "label"),
    ("numeric label", _with(camera_event(), 7, "details", "label"), "label"),
    ("long zone", _with(camera_event(), "z" * 65, "details", "zone"), "zone"),
    ("zones not a list", _with(detection_event(), "door", "details", "zones"), "zones"),
    ("zones of numbers", _with(detection_event(), [1, 2], "details", "zones"), "zones"),
]


@pytest.mark.parametrize(
    ("event", "message"), [(e, m) for _, e, m in BAD_EVENTS], ids=[n for n, _, _ in BAD_EVENTS]
)
def test_a_missing_or_odd_field_raises_a_summary_error_naming_it(
    event: dict[str, Any], message: str
) -> None:
    with pytest.raises(SummaryError, match=message):
        summarize(event, tenant_id=TENANT, site_id=SITE)


def test_the_error_names_the_event() -> None:
    with pytest.raises(SummaryError, match=f"event {CAMERA_EVENT_ID}: version"):
        summarize(_with(camera_event(), "2", "version"), tenant_id=TENANT, site_id=SITE)


@pytest.mark.parametrize("event", [None, [], "event", 3])
def test_a_non_object_event_is_refused(event: Any) -> None:
    with pytest.raises(SummaryError, match="JSON object"):
        summarize(event, tenant_id=TENANT, site_id=SITE)


@pytest.mark.parametrize(("tenant", "site"), [("acme", SITE), (TENANT, ""), (TENANT, "site-1")])
def test_tenant_and_site_must_be_uuids(tenant: str, site: str) -> None:
    with pytest.raises(SummaryError, match="_id"):
        summarize(camera_event(), tenant_id=tenant, site_id=site)


def test_ids_are_written_in_canonical_form() -> None:
    event = _with(camera_event(), CAMERA_EVENT_ID.upper(), "id")
    summary = summarize(event, tenant_id=TENANT.upper(), site_id=SITE)
    assert (summary["id"], summary["tenant_id"]) == (CAMERA_EVENT_ID, TENANT)


# --- Property: nothing outside the allow-list reaches the summary -------------------------

_secret = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=6, max_size=12).map(
    lambda s: f"SECRET-{s}"
)
_uri = st.builds(lambda s: f"file:///media/{s}.jpg", _secret)
# Box coordinates >= 1000 with two decimals: no kept number (dwell < 1000, counts < 1000,
# times in whole seconds) can render as or contain them.
_coord = st.integers(100_000, 999_999).map(lambda n: n / 100)
# Four decimals, the last not zero: "0.8731" cannot hide inside a kept value.
_score = st.integers(1, 9999).filter(lambda n: n % 10).map(lambda n: n / 10000)
_box = st.lists(_coord, min_size=4, max_size=4)
_extra_key = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
    lambda k: (
        k
        not in {"camera", "label", "zones", "zone", "dwell_s", "state", "person_count", "details"}
        | {"id", "type", "source_kind", "source_id", "started_at", "ended_at", "version"}
    )
)
_secret_value = st.one_of(
    _secret,
    _uri,
    st.lists(st.fixed_dictionaries({"score": _score, "box": _box}), min_size=1, max_size=3),
    st.fixed_dictionaries({"storage_uri": _uri, "path": _secret}),
)


@st.composite
def _leaky_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid edge event stuffed with secrets in every place the summary must not read."""
    kind = draw(st.sampled_from(["camera", "device"]))
    start = T0 + dt.timedelta(seconds=draw(st.integers(0, 10**6)))
    end = start + dt.timedelta(seconds=draw(st.integers(0, 3600)))
    details: dict[str, Any] = {
        "boxes": {draw(_secret): [{"score": draw(_score), "box": draw(_box)}]},
        "capture_ids": draw(st.lists(_secret, min_size=1, max_size=3)),
        "key": draw(_secret),
        "track_id": draw(_secret),
        "snapshot": {"path": draw(_uri), "storage_uri": draw(_uri)},
        "best_score": draw(_score),
        "best_box": draw(_box),
    }
    details.update(draw(st.dictionaries(_extra_key, _secret_value, max_size=4)))
    if kind == "camera":
        details.update(
            camera="front",
            label=draw(st.sampled_from(["person", "car", None])),
            zone=draw(st.sampled_from(["shelf", "door", None])),
            zones=draw(st.lists(st.sampled_from(["shelf", "door"]), max_size=2)),
            dwell_s=draw(st.one_of(st.none(), st.floats(0, 999, allow_nan=False))),
            state=draw(st.sampled_from(["active", "ended"])),
        )
    event: dict[str, Any] = {
        "id": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))),
        "type": draw(st.sampled_from(["interaction_detected", "person_detected"])),
        "source_kind": kind,
        "source_id": draw(st.sampled_from(["front", "pi-1"])),
        "started_at": start.isoformat(),
        "ended_at": end.isoformat(),
        "person_count": draw(st.integers(0, 999)),
        "best_score": draw(_score),
        "details": details,
        "version": draw(st.integers(1, 999)),
        "storage_uri": draw(_uri),
        "image": draw(_secret),
    }
    event.update(draw(st.dictionaries(_extra_key, _secret_value, max_size=3)))
    return event


KEPT_DETAILS = frozenset({"camera", "label", "zone", "zones", "dwell_s", "state"})
KEPT_FIELDS = frozenset(
    {"id", "type", "source_kind", "source_id", "started_at", "ended_at", "person_count"}
    | {"version", "details"}
)


def _secrets_of(value: Any) -> list[str]:
    """String forms of every SECRET string, uri, box coordinate and score in ``value``."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _secrets_of(key) + _secrets_of(item)
    elif isinstance(value, list):
        for item in value:
            found += _secrets_of(item)
    elif isinstance(value, str) and ("SECRET-" in value or "file://" in value):
        found.append(value)
    elif isinstance(value, float) and (value >= 1000 or (0 < value < 1)):
        found.append(repr(value))
    return found


@settings(max_examples=300, deadline=None)
@given(_leaky_events())
def test_no_box_score_uri_or_reference_of_the_input_reaches_the_summary(
    event: dict[str, Any],
) -> None:
    summary = summarize(event, tenant_id=TENANT, site_id=SITE)
    assert set(summary) == set(SUMMARY_FIELDS)
    rendered = json.dumps(summary)
    details = {k: v for k, v in event["details"].items() if k not in KEPT_DETAILS}
    top = {k: v for k, v in event.items() if k not in KEPT_FIELDS}
    secrets = _secrets_of(details) + _secrets_of(top)
    assert secrets, "the generator must plant secrets"
    leaked = [s for s in secrets if s in rendered]
    assert not leaked
    for value in summary.values():
        assert not isinstance(value, dict | list)
