"""Pure parts of the web UI: form parsing, charts, CSP, CSRF, refresh sharing, timeline query."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from guardian.common.api_errors import Unauthorized, Unprocessable
from guardian.control.auth.issuer import TokenPair
from guardian.control.inventory.schemas import NoteIn
from guardian.control.web.charts import bar_chart, daily_series
from guardian.control.web.forms import first_error, format_items, local_day_start, parse_items
from guardian.control.web.pages_auth import safe_next
from guardian.control.web.pages_fleet import enroll_command
from guardian.control.web.render import human_bytes, iso_utc, utc_text
from guardian.control.web.security import origin_of, ui_csp
from guardian.control.web.session import RefreshShare, csrf_matches, new_csrf_token
from guardian.control.web.timeline import TimelineQuery

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def test_note_items_parse_from_lines_and_format_back() -> None:
    items = parse_items("6 milk 1l\n\n 2 x bread \n3\u00d7 eggs\nsalt\n10 10 pack")
    assert items == [
        {"item": "milk 1l", "quantity": 6},
        {"item": "bread", "quantity": 2},
        {"item": "eggs", "quantity": 3},
        {"item": "salt", "quantity": 1},
        {"item": "10 pack", "quantity": 10},
    ]
    assert parse_items(format_items(items)) == items


def test_a_schema_error_reads_as_one_sentence() -> None:
    with pytest.raises(Exception) as caught:
        NoteIn.model_validate({"comment": ""})
    assert first_error(caught.value) == "a note needs items or a comment"  # type: ignore[arg-type]
    with pytest.raises(Exception) as caught:
        NoteIn.model_validate({"added_items": [{"item": "", "quantity": 0}]})
    assert first_error(caught.value).startswith("added items.item:")  # type: ignore[arg-type]


def test_local_days_start_at_the_viewers_midnight() -> None:
    assert local_day_start("2026-07-01", BERLIN) == dt.datetime(2026, 6, 30, 22, tzinfo=dt.UTC)
    utc = zoneinfo.ZoneInfo("UTC")
    assert local_day_start("2026-01-01", utc) == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(Unprocessable):
        local_day_start("01/07/2026", utc)


def test_timeline_query_reads_filters_and_builds_links() -> None:
    query = TimelineQuery.of(
        {"camera": "c1", "type": "interaction_detected", "since": "2026-07-01",
         "until": "2026-07-01", "q": "  milk   1l ", "cursor": "abc"}
    )  # fmt: skip
    f = query.event_filter(BERLIN)
    assert (f.camera_id, f.type, f.q) == ("c1", "interaction_detected", "milk 1l")
    assert f.since == dt.datetime(2026, 6, 30, 22, tzinfo=dt.UTC)
    assert f.until == dt.datetime(2026, 7, 1, 22, tzinfo=dt.UTC)  # the whole day included
    assert query.filtered and query.cursor == "abc"
    assert query.link(cursor="n2", q=None) == (
        "?camera=c1&type=interaction_detected&since=2026-07-01&until=2026-07-01&cursor=n2"
    )
    empty = TimelineQuery.of({})
    assert not empty.filtered and empty.event_filter(BERLIN).since is None


def test_daily_series_fills_gaps_and_bars_scale_to_the_peak() -> None:
    series = daily_series({"2026-07-02": 4, "2026-07-04": 2}, dt.date(2026, 7, 4), 4)
    assert series == [("2026-07-01", 0), ("2026-07-02", 4), ("2026-07-03", 0), ("2026-07-04", 2)]
    chart = bar_chart(series)
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.day == "2026-07-02" and tallest.y + tallest.height == chart.baseline
    assert chart.bars[3].height == pytest.approx(tallest.height / 2)
    assert chart.bars[0].height == 1.0 and chart.total == 6 and chart.peak == 4
    assert [b.label for b in chart.bars] == ["Wed", "Thu", "Fri", "Sat"]
    assert bar_chart([]).bars == []


def test_csp_forbids_inline_script_and_framing_and_names_media_origins() -> None:
    csp = ui_csp()
    assert "script-src 'self';" in csp and "unsafe" not in csp
    assert "frame-ancestors 'none'" in csp and "media-src 'self';" in csp
    assert "https://r.example" in ui_csp(["https://r.example"])
    assert (
        origin_of("https://Relay.example:8443/v1/media/x?token=t") == "https://relay.example:8443"
    )
    assert origin_of("http://[::1]:80/x") == "http://[::1]:80"
    assert origin_of("javascript:alert(1)") is None and origin_of("") is None


def test_csrf_tokens_match_only_themselves() -> None:
    token = new_csrf_token()
    assert len(token) >= 40 and token != new_csrf_token()
    assert csrf_matches(token, token)
    assert not csrf_matches(token, token[:-1] + "x")
    assert (
        not csrf_matches(None, token) and not csrf_matches(token, "") and not csrf_matches("", "")
    )


def test_a_refresh_token_is_rotated_once_and_shared_for_a_while() -> None:
    calls: list[str] = []
    now = [100.0]

    def rotate(token: str) -> TokenPair:
        if token == "bad":
            raise Unauthorized("refresh token is not valid")
        calls.append(token)
        return TokenPair(f"access-{len(calls)}", f"refresh-{len(calls)}", 900)

    share = RefreshShare(rotate, share_s=30, clock=lambda: now[0])
    first = share.refresh("r1")
    assert share.refresh("r1") is first and calls == ["r1"]
    assert share.refresh("r2").access_token == "access-2"
    now[0] += 31
    assert share.refresh("r1").access_token == "access-3"  # expired share: the issuer decides
    with pytest.raises(Unauthorized):
        share.refresh("bad")


def test_redirect_targets_stay_on_this_site() -> None:
    assert safe_next("/events?type=x") == "/events?type=x"
    for evil in ("//evil.example", "https://evil.example", "/\\evil.example", "", None):
        assert safe_next(evil) == "/"


def test_enrol_command_is_exact() -> None:
    assert enroll_command("relay.example:7443", "gbt_abc") == (
        "guardian edge enroll --relay relay.example:7443 --token gbt_abc"
    )
    assert enroll_command(None, "gbt_abc").startswith(
        "guardian edge enroll --relay RELAY-HOST:PORT"
    )


def test_display_helpers() -> None:
    when = dt.datetime(2026, 7, 1, 12, 30, 5, tzinfo=BERLIN)
    assert iso_utc(when) == "2026-07-01T10:30:05Z"
    assert utc_text(when) == "2026-07-01 10:30:05 UTC" and utc_text(None) == "—"
    assert iso_utc(dt.datetime(2026, 1, 1)) == "2026-01-01T00:00:00Z"  # naive is UTC
    assert human_bytes(1_500_000_000) == "1.5 GB" and human_bytes(512) == "512 B"
    assert human_bytes(None) == "—" and human_bytes(True) == "—"
