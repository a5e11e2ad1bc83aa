"""The archive secret: parsed from stdin, sealed at rest with the master key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from guardian.common.seal import Sealer
from guardian.edge.archive.secret import (
    SecretError,
    load_secret,
    parse_secret,
    secret_path,
    store_secret,
)


def test_parse_drops_the_newline_and_checks_length() -> None:
    assert parse_secret("hunter2hunter2\n") == b"hunter2hunter2"
    with pytest.raises(SecretError, match="at least"):
        parse_secret("short\n")
    with pytest.raises(SecretError, match="one line"):
        parse_secret("two\nlines here\n")


def test_stored_sealed_and_private(tmp_path: Path) -> None:
    sealer = Sealer(os.urandom(32))
    store_secret(tmp_path, sealer, b"my archive secret")

    raw = secret_path(tmp_path).read_bytes()
    assert b"my archive secret" not in raw
    assert secret_path(tmp_path).stat().st_mode & 0o777 == 0o600
    assert load_secret(tmp_path, sealer) == b"my archive secret"


def test_missing_or_foreign_secret_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="set-secret"):
        load_secret(tmp_path, Sealer(os.urandom(32)))
    store_secret(tmp_path, Sealer(os.urandom(32)), b"my archive secret")
    with pytest.raises(SecretError, match="cannot be opened"):
        load_secret(tmp_path, Sealer(os.urandom(32)))
