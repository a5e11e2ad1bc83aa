"""The playback-token contract: the control plane signs, the relay verifies (see docs).

A playback token is a compact JWS (RS256, signed with one of the control plane's issuer
keys, published at ``/.well-known/jwks.json``) whose header says ``typ: gpb+jwt`` and
whose claims are::

    iss  the control plane's issuer URL        aud  "guardian-relay-media"
    tid  tenant id      evt  event id          knd  "clip" | "snapshot"
    fn   download file name (sanitised)        jti  unique id (hex)
    iat / nbf / exp  unix seconds

The distinct ``typ`` and ``aud`` keep access tokens and playback tokens apart: the control
plane's verifier requires ``aud: guardian-control``, this module requires the above.
Pure: no I/O; the caller supplies the key look-up and the clock.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ALGORITHM: Final = "RS256"
TOKEN_TYPE: Final = "gpb+jwt"
AUDIENCE: Final = "guardian-relay-media"
MediaKind = Literal["clip", "snapshot"]
MEDIA_KINDS: Final[tuple[MediaKind, ...]] = ("clip", "snapshot")
EXTENSIONS: Final[dict[str, str]] = {"clip": "mp4", "snapshot": "jpg"}
MAX_FILENAME: Final = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_REQUIRED: Final = ["exp", "iat", "aud", "tid", "evt", "knd", "jti"]


class PlaybackTokenError(Exception):
    """A token the relay must refuse; ``status`` is 401 (not valid) or 403 (not for this)."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class PlaybackClaims:
    """What a verified playback token grants."""

    tenant_id: str
    event_id: str
    kind: MediaKind
    filename: str
    token_id: str
    expires_at: float

    def check(self, event_id: str, kind: str) -> None:
        """``PlaybackTokenError`` (403) unless the token is for ``event_id`` and ``kind``."""
        if self.event_id != event_id:
            raise PlaybackTokenError("the token is for another event", 403)
        if self.kind != kind:
            raise PlaybackTokenError(f"the token is for the {self.kind}, not the {kind}", 403)


def safe_filename(name: str) -> str:
    """``name`` reduced to ``[A-Za-z0-9._-]`` (runs of anything else become ``_``)."""
    cleaned = _UNSAFE.sub("_", name).strip("._-")[:MAX_FILENAME]
    return cleaned or "media"


def claims(
    *,
    issuer: str,
    tenant_id: str,
    event_id: str,
    kind: MediaKind,
    filename: str,
    now: float,
    lifetime_seconds: int,
) -> dict[str, Any]:
    """The claims of a new playback token (a fresh ``jti`` each time)."""
    if kind not in MEDIA_KINDS:
        raise ValueError(f"kind must be one of {', '.join(MEDIA_KINDS)}")
    issued = int(now)
    return {
        "iss": issuer,
        "aud": AUDIENCE,
        "tid": tenant_id,
        "evt": event_id,
        "knd": kind,
        "fn": safe_filename(filename),
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime_seconds,
        "jti": uuid.uuid4().hex,
    }


def sign(payload: dict[str, Any], key: rsa.RSAPrivateKey, kid: str) -> str:
    """The compact token of ``payload`` signed with ``key`` (header ``kid``, ``typ``)."""
    return jwt.encode(payload, key, algorithm=ALGORITHM, headers={"kid": kid, "typ": TOKEN_TYPE})


def verify(
    token: str,
    key_for: Callable[[str], rsa.RSAPublicKey | None],
    *,
    now: float,
    leeway: float = 5.0,
    issuer: str | None = None,
) -> PlaybackClaims:
    """The claims of a valid playback token, or ``PlaybackTokenError`` saying why not.

    ``key_for(kid)`` returns the issuer's public key ``kid`` (None: unknown). ``issuer``,
    when given, must equal ``iss``.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise PlaybackTokenError("the token is malformed") from exc
    if header.get("alg") != ALGORITHM:
        raise PlaybackTokenError(f"only {ALGORITHM} playback tokens are accepted")
    if header.get("typ") != TOKEN_TYPE:
        raise PlaybackTokenError("not a playback token")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise PlaybackTokenError("the token has no kid")
    key = key_for(kid)
    if key is None:
        raise PlaybackTokenError("the token is signed with an unknown key")
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=issuer,
            # Times are checked below against the caller's clock.
            options={
                "require": _REQUIRED,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidSignatureError as exc:
        raise PlaybackTokenError("the token signature does not verify") from exc
    except jwt.InvalidAudienceError as exc:
        raise PlaybackTokenError("the token is not for relay media") from exc
    except jwt.InvalidIssuerError as exc:
        raise PlaybackTokenError("the token is from another issuer") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise PlaybackTokenError(f"the token has no {exc.claim} claim") from exc
    except jwt.PyJWTError as exc:
        raise PlaybackTokenError("the token is malformed") from exc
    return _claims_of(payload, now, leeway)


def _claims_of(payload: dict[str, Any], now: float, leeway: float) -> PlaybackClaims:
    exp, nbf = payload.get("exp"), payload.get("nbf", payload.get("iat"))
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise PlaybackTokenError("the token's exp is not a number")
    if now > exp + leeway:
        raise PlaybackTokenError("the token has expired")
    if isinstance(nbf, int | float) and now + leeway < nbf:
        raise PlaybackTokenError("the token is not valid yet")
    kind = payload.get("knd")
    if kind not in MEDIA_KINDS:
        raise PlaybackTokenError("the token names an unknown media kind")
    fields = [payload.get(k) for k in ("tid", "evt", "jti")]
    if not all(isinstance(f, str) and f for f in fields):
        raise PlaybackTokenError("the token's tid, evt and jti must be non-empty strings")
    tenant_id, event_id, token_id = (str(f) for f in fields)
    filename = payload.get("fn")
    return PlaybackClaims(
        tenant_id=tenant_id,
        event_id=event_id,
        kind=kind,
        filename=safe_filename(filename if isinstance(filename, str) else ""),
        token_id=token_id,
        expires_at=float(exp),
    )
