"""Playback tokens: what the relay accepts and what it refuses, and why."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from guardian.contracts import playback
from guardian.control.auth.tokens import InvalidToken, access_claims
from guardian.control.auth.verifier import decode_rs256

NOW = 1_800_000_000.0
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ISSUER = "https://control.example"


def _claims(**overrides: Any) -> dict[str, Any]:
    made = playback.claims(
        issuer=ISSUER, tenant_id="t1", event_id="e1", kind="clip",
        filename="front door-20260301-100000-clip.mp4", now=NOW, lifetime_seconds=300,
    )  # fmt: skip
    made.update(overrides)
    return made


def _token(claims: dict[str, Any] | None = None, key: rsa.RSAPrivateKey = KEY) -> str:
    return playback.sign(claims or _claims(), key, "k1")


def _keys(kid: str) -> rsa.RSAPublicKey | None:
    return KEY.public_key() if kid == "k1" else None


def _verify(token: str, now: float = NOW, **kw: Any) -> playback.PlaybackClaims:
    return playback.verify(token, _keys, now=now, **kw)


def _refused(token: str, message: str, status: int = 401, **kw: Any) -> None:
    with pytest.raises(playback.PlaybackTokenError, match=message) as caught:
        _verify(token, **kw)
    assert caught.value.status == status


def test_a_valid_token_grants_its_tenant_event_and_kind_only() -> None:
    claims = _verify(_token(), issuer=ISSUER)
    assert (claims.tenant_id, claims.event_id, claims.kind) == ("t1", "e1", "clip")
    assert claims.filename == "front_door-20260301-100000-clip.mp4"
    assert claims.expires_at == NOW + 300
    claims.check("e1", "clip")
    with pytest.raises(playback.PlaybackTokenError, match="another event") as other:
        claims.check("e2", "clip")
    assert other.value.status == 403
    with pytest.raises(playback.PlaybackTokenError, match="not the snapshot") as kind:
        claims.check("e1", "snapshot")
    assert kind.value.status == 403


def test_every_token_has_a_unique_id() -> None:
    assert _claims()["jti"] != _claims()["jti"]


def test_expired_and_not_yet_valid_tokens_are_refused() -> None:
    _refused(_token(), "expired", now=NOW + 306)
    _verify(_token(), now=NOW + 304)  # within the leeway
    _refused(_token(), "not valid yet", now=NOW - 60)


def test_tampered_or_foreign_tokens_are_refused() -> None:
    header, payload, signature = _token().split(".")
    changed = json.loads(base64.urlsafe_b64decode(payload + "=="))
    changed["evt"] = "e2"
    forged = base64.urlsafe_b64encode(json.dumps(changed).encode()).rstrip(b"=").decode()
    _refused(f"{header}.{forged}.{signature}", "signature")
    _refused(_token(key=OTHER_KEY), "signature")
    _refused(playback.sign(_claims(), KEY, "unknown"), "unknown key")
    _refused("not a token", "malformed")
    _refused(_token(), "another issuer", issuer="https://elsewhere.example")


def test_other_algorithms_and_types_are_refused() -> None:
    hs = jwt.encode(_claims(), "a shared secret of at least 32 bytes!!", algorithm="HS256",
                    headers={"kid": "k1", "typ": playback.TOKEN_TYPE})  # fmt: skip
    _refused(hs, "only RS256")
    untyped = jwt.encode(_claims(), KEY, algorithm="RS256", headers={"kid": "k1"})
    _refused(untyped, "not a playback token")
    _refused(playback.sign(_claims(aud="guardian-control"), KEY, "k1"), "not for relay media")
    _refused(playback.sign(_claims(knd="thumbnail"), KEY, "k1"), "unknown media kind")
    missing = _claims()
    del missing["tid"]
    _refused(playback.sign(missing, KEY, "k1"), "no tid claim")


def test_access_tokens_and_playback_tokens_are_not_interchangeable() -> None:
    access = access_claims(
        issuer=ISSUER, audience="guardian-control", user_id="u1", tenant_id="t1",
        role="admin", now=NOW, lifetime_seconds=900,
    )  # fmt: skip
    access_token = jwt.encode(access, KEY, algorithm="RS256", headers={"kid": "k1"})
    _refused(access_token, "not a playback token")
    with pytest.raises(InvalidToken, match=r"no sub claim|another audience"):
        decode_rs256(
            _token(), KEY.public_key(), issuer=ISSUER, audience="guardian-control",
            now=NOW, leeway=0,
        )  # fmt: skip


def test_file_names_are_reduced_to_safe_characters() -> None:
    assert playback.safe_filename('a"b/../c\\d\r\n;e.mp4') == "a_b_.._c_d_e.mp4"
    assert playback.safe_filename("...") == "media"
    assert len(playback.safe_filename("x" * 500)) == playback.MAX_FILENAME
    with pytest.raises(ValueError, match="kind"):
        playback.claims(
            issuer=ISSUER, tenant_id="t", event_id="e", kind="video",  # type: ignore[arg-type]
            filename="f", now=NOW, lifetime_seconds=60,
        )  # fmt: skip
