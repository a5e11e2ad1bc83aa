"""Process-wide logging setup: JSON lines or human text, with secret redaction."""

from __future__ import annotations

# Absolute imports (the Python 3 default) make ``import logging`` below resolve to the stdlib
# module, not this one, even though this module is also named ``logging``.
import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

logger = logging.getLogger(__name__)

LogFormat = Literal["auto", "json", "human"]

REDACTED = "***"

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}

# Substrings that mark a key as secret wherever they appear ("db_password", "authToken").
_SECRET_SUBSTRINGS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "authorization",
    "cookie",
    "credential",
    "privatekey",
)
# Short words that are only secret as a whole segment: "api_key" yes, "keyframe" no.
_SECRET_SEGMENTS = frozenset({"key", "keys", "pwd", "auth"})
_SEGMENT_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# "scheme://user:password@host" -> the password part.
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]+:)[^@\s]+(?=@)")


def is_secret_key(key: str) -> bool:
    """Whether a field called ``key`` likely holds a secret (password, token, API key...)."""
    lowered = _CAMEL_BOUNDARY.sub("_", key).lower()
    squashed = _SEGMENT_SPLIT.sub("", lowered)
    if any(word in squashed for word in _SECRET_SUBSTRINGS):
        return True
    return any(segment in _SECRET_SEGMENTS for segment in _SEGMENT_SPLIT.split(lowered))


def redact(value: Any) -> Any:
    """Return ``value`` with secret-looking mapping entries and URL passwords masked.

    Containers are copied rather than mutated: the caller still owns the original objects.
    """
    if isinstance(value, str):
        return _URL_PASSWORD.sub(rf"\g<head>{REDACTED}", value)
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and is_secret_key(k) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redact(v) for v in value)
    return value


class RedactSecretsFilter(logging.Filter):
    """Mask ``extra=`` fields whose key looks secret, and passwords embedded in URLs."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place (it is shared by all handlers); never drops it."""
        for key in extra_fields(record):
            value = record.__dict__[key]
            record.__dict__[key] = REDACTED if is_secret_key(key) else redact(value)
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            # Freeze the redacted text so later formatting cannot re-interpolate the secret.
            record.msg, record.args = cleaned, None
        return True


def extra_fields(record: logging.LogRecord) -> list[str]:
    """Names of the attributes that were attached to ``record`` through ``extra=``."""
    return [key for key in record.__dict__ if key not in _RECORD_ATTRS and not key.startswith("_")]


def _timestamp(record: logging.LogRecord) -> str:
    stamp = datetime.fromtimestamp(record.created, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, extra fields, exc, stack."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a single-line JSON object."""
        payload: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in extra_fields(record):
            # Core keys win; a clashing extra is kept under a prefixed name instead of lost.
            payload["extra." + key if key in payload else key] = record.__dict__[key]
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exc"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class HumanFormatter(logging.Formatter):
    """Compact terminal format: ``HH:MM:SS.mmm LEVEL logger: message key=value ...``."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as one line, followed by any traceback lines."""
        clock = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        line = f"{clock}.{int(record.msecs):03d} {record.levelname:<8} {record.name}: "
        line += record.getMessage()
        pairs = [f"{key}={_human_value(record.__dict__[key])}" for key in extra_fields(record)]
        if pairs:
            line += " " + " ".join(pairs)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


def _human_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if not text or any(ch.isspace() or ch in '="' for ch in text):
        return json.dumps(text, ensure_ascii=False)
    return text


class _GuardianHandler(logging.StreamHandler[TextIO]):
    """Marker subclass so reconfiguration can find and replace the handler it installed."""


_CHATTY_LIBRARIES = ("alembic",)


def configure_logging(level: str, fmt: LogFormat, stream: TextIO | None = None) -> None:
    """Install Guardian's handler on the root logger, replacing any earlier one.

    ``fmt="auto"`` picks the human format when the output stream is a terminal and JSON
    otherwise. ``stream`` defaults to the current ``sys.stderr``. Handlers installed by others
    (pytest's capture, for instance) are left alone.
    """
    levelno = logging.getLevelNamesMapping().get(level.strip().upper())
    if levelno is None:
        raise ValueError(f"unknown log level {level!r}")
    target = stream if stream is not None else sys.stderr
    if fmt == "auto":
        fmt = "human" if _isatty(target) else "json"
    formatter: logging.Formatter = HumanFormatter() if fmt == "human" else JsonFormatter()

    handler = _GuardianHandler(target)
    handler.setFormatter(formatter)
    handler.addFilter(RedactSecretsFilter())

    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _GuardianHandler)]:
        root.removeHandler(old)
        old.close()  # StreamHandler.close() leaves the stream itself open, as we want.
    root.addHandler(handler)
    root.setLevel(levelno)
    # Libraries that narrate routine steps at INFO; their warnings still come through.
    for name in _CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(max(levelno, logging.WARNING))


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # Closed or file-like objects without a terminal.
        return False
