"""Tests for Guardian's logging setup: formats, redaction and idempotent reconfiguration."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import guardian.common.logging as glog
from guardian.common.logging import configure_logging, is_secret_key

RFC3339_MS_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    # configure_logging changes process-wide state; put it back for the rest of the suite.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


class _TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True


def _json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _guardian_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, glog._GuardianHandler)]


def test_module_is_not_shadowing_stdlib_logging() -> None:
    assert vars(glog)["logging"] is logging
    assert glog.__name__ == "guardian.common.logging"
    assert logging.__name__ == "logging"


def test_json_lines_have_core_fields_and_extras() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    before = datetime.now(UTC) - timedelta(seconds=1)
    logging.getLogger("guardian.test").info(
        "camera %s online", "cam-1", extra={"camera_id": 7, "tags": ["a", "b"]}
    )
    logging.getLogger("guardian.test").debug("below the level")
    (line,) = _json_lines(stream)
    assert line["level"] == "INFO"
    assert line["logger"] == "guardian.test"
    assert line["msg"] == "camera cam-1 online"
    assert line["camera_id"] == 7
    assert line["tags"] == ["a", "b"]
    assert RFC3339_MS_UTC.fullmatch(line["ts"])
    stamp = datetime.fromisoformat(line["ts"])
    assert before <= stamp <= datetime.now(UTC) + timedelta(seconds=1)
    assert "exc" not in line


def test_json_output_is_one_object_per_line() -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream)
    logging.getLogger("guardian.test").warning("multi\nline", extra={"note": "x\ny"})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["msg"] == "multi\nline"


def test_json_exception_is_a_string() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("guardian.test").exception("failed")
    (line,) = _json_lines(stream)
    assert line["level"] == "ERROR"
    assert isinstance(line["exc"], str)
    assert "RuntimeError: boom" in line["exc"]
    assert "Traceback" in line["exc"]


def test_json_extra_clashing_with_core_key_is_kept() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    logging.getLogger("guardian.test").info("m", extra={"ts": "mine", "level": 3})
    (line,) = _json_lines(stream)
    assert RFC3339_MS_UTC.fullmatch(line["ts"])
    assert line["extra.ts"] == "mine"
    assert line["level"] == "INFO"
    assert line["extra.level"] == 3


def test_json_serialises_unusual_values() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    logging.getLogger("guardian.test").info("m", extra={"when": datetime(2024, 1, 2, tzinfo=UTC)})
    (line,) = _json_lines(stream)
    assert line["when"] == "2024-01-02 00:00:00+00:00"


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "db_password",
        "token",
        "access_token",
        "authToken",
        "secret",
        "client_secret",
        "api_key",
        "apiKey",
        "key",
        "Authorization",
        "cookie",
        "set-cookie",
        "privateKey",
        "credentials",
    ],
)
def test_secret_keys_are_detected(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["camera_id", "keyframe", "monkey", "author", "level", "url"])
def test_ordinary_keys_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)


def test_secrets_are_redacted_in_json() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    headers = {"Authorization": "Bearer abc", "Accept": "text/plain"}
    logging.getLogger("guardian.test").info(
        "login",
        extra={
            "password": "hunter2",
            "api_key": "k-123",
            "user": "alice",
            "headers": headers,
            "dsn": "postgresql://guardian:s3cret@db:5432/guardian",
        },
    )
    (line,) = _json_lines(stream)
    assert line["password"] == "***"
    assert line["api_key"] == "***"
    assert line["user"] == "alice"
    assert line["headers"] == {"Authorization": "***", "Accept": "text/plain"}
    assert line["dsn"] == "postgresql://guardian:***@db:5432/guardian"
    raw = stream.getvalue()
    for secret in ("hunter2", "k-123", "Bearer abc", "s3cret"):
        assert secret not in raw
    # Redaction copies nested containers; the caller's objects are untouched.
    assert headers["Authorization"] == "Bearer abc"


def test_url_password_in_message_is_redacted() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    logging.getLogger("guardian.test").info("connecting to %s", "postgresql://u:pw123@h/db")
    (line,) = _json_lines(stream)
    assert line["msg"] == "connecting to postgresql://u:***@h/db"


def test_secrets_are_redacted_in_human_format() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "human", stream)
    logging.getLogger("guardian.test").info("hello", extra={"token": "abc123", "n": 1})
    output = stream.getvalue()
    assert "abc123" not in output
    assert "token=***" in output


def test_human_format_layout() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "human", stream)
    logging.getLogger("guardian.edge").warning("camera lost", extra={"camera": "front door"})
    (line,) = stream.getvalue().splitlines()
    assert re.fullmatch(
        r'\d{2}:\d{2}:\d{2}\.\d{3} WARNING  guardian\.edge: camera lost camera="front door"', line
    )


def test_human_format_includes_traceback() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "human", stream)
    try:
        raise ValueError("bad frame")
    except ValueError:
        logging.getLogger("guardian.test").exception("decode failed")
    output = stream.getvalue()
    assert "decode failed" in output.splitlines()[0]
    assert "ValueError: bad frame" in output


def test_auto_picks_human_for_tty_and_json_otherwise() -> None:
    tty = _TtyStream()
    configure_logging("INFO", "auto", tty)
    logging.getLogger("guardian.test").info("to terminal")
    assert not tty.getvalue().startswith("{")
    assert "guardian.test: to terminal" in tty.getvalue()

    pipe = io.StringIO()
    configure_logging("INFO", "auto", pipe)
    logging.getLogger("guardian.test").info("to pipe")
    assert _json_lines(pipe)[-1]["msg"] == "to pipe"


def test_reconfiguring_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("INFO", "json", first)
    configure_logging("INFO", "json", first)
    assert len(_guardian_handlers()) == 1
    configure_logging("WARNING", "json", second)
    assert len(_guardian_handlers()) == 1
    log = logging.getLogger("guardian.test")
    log.info("dropped by level")
    log.warning("once")
    assert first.getvalue() == ""
    assert [line["msg"] for line in _json_lines(second)] == ["once"]


def test_other_handlers_are_left_alone() -> None:
    foreign = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    root.addHandler(foreign)
    try:
        configure_logging("INFO", "json", io.StringIO())
        configure_logging("INFO", "json", io.StringIO())
        assert foreign in root.handlers
    finally:
        root.removeHandler(foreign)


def test_level_is_case_insensitive_and_validated() -> None:
    configure_logging("debug", "json", io.StringIO())
    assert logging.getLogger().level == logging.DEBUG
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("chatty", "json", io.StringIO())


def test_defaults_to_current_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    logging.getLogger("guardian.test").info("to stderr")
    err = capsys.readouterr().err
    assert [json.loads(line)["msg"] for line in err.splitlines()][-1] == "to stderr"
