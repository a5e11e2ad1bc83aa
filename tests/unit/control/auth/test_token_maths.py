"""Pure auth logic: claims, time checks, throttling windows, password policy, JWKS parsing."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from guardian.control.auth.keys import public_jwk_of, thumbprint
from guardian.control.auth.oidc import jwks_url, parse_jwks
from guardian.control.auth.passwords import (
    WeakPassword,
    check_password,
    hash_password,
    verify_password,
)
from guardian.control.auth.throttle import counters, wait_seconds
from guardian.control.auth.tokens import InvalidToken, access_claims, check_times, digest
from guardian.control.auth.users import InvalidUser, normalise_email

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def test_access_claims_carry_tenant_role_and_lifetime() -> None:
    claims = access_claims(
        issuer="https://cp", audience="aud", user_id="u", tenant_id="t", role="viewer",
        now=1000.7, lifetime_seconds=900,
    )  # fmt: skip
    assert claims["iat"] == claims["nbf"] == 1000 and claims["exp"] == 1900
    assert (claims["sub"], claims["tid"], claims["role"]) == ("u", "t", "viewer")
    other = access_claims(
        issuer="https://cp", audience="aud", user_id="u", tenant_id="t", role="viewer",
        now=1000.7, lifetime_seconds=900,
    )  # fmt: skip
    assert claims["jti"] != other["jti"]


@pytest.mark.parametrize(
    ("claims", "now", "reason"),
    [
        ({}, 100, "token has no exp claim"),
        ({"exp": 100}, 131, "token has expired"),
        ({"exp": 1000, "nbf": 200}, 169, "token is not valid yet"),
        ({"exp": 1000, "iat": 200}, 100, "token was issued in the future"),
        ({"exp": "soon"}, 100, "claim exp must be a number"),
        ({"exp": True}, 100, "claim exp must be a number"),
    ],
)
def test_check_times_refuses(claims: dict[str, object], now: float, reason: str) -> None:
    with pytest.raises(InvalidToken) as caught:
        check_times(claims, now, leeway=30)
    assert caught.value.message == reason
    assert 'error="invalid_token"' in caught.value.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("claims", "now"),
    [
        ({"exp": 100}, 130),  # expired, within leeway
        ({"exp": 1000, "nbf": 200, "iat": 200}, 170),  # not yet valid, within leeway
        ({"exp": 1000, "nbf": 200, "iat": 200}, 500),
    ],
)
def test_check_times_allows_within_leeway(claims: dict[str, object], now: float) -> None:
    check_times(claims, now, leeway=30)


def test_wait_seconds_counts_down_to_the_window_end() -> None:
    assert wait_seconds(T0, 4, 5, T0 + dt.timedelta(seconds=10), 900) is None  # under limit
    assert wait_seconds(T0, 5, 5, T0 + dt.timedelta(seconds=10), 900) == 890
    assert wait_seconds(T0, 5, 5, T0 + dt.timedelta(seconds=899.5), 900) == 1
    assert wait_seconds(T0, 50, 5, T0 + dt.timedelta(seconds=900), 900) is None  # new window


def test_counters_charge_the_account_and_four_times_more_the_address() -> None:
    got = counters(" Ops@Example.com ", "10.0.0.1", 5)
    assert [(c.key, c.limit) for c in got] == [
        ("account:ops@example.com", 5),
        ("address:10.0.0.1", 20),
    ]
    assert [c.key for c in counters("a@b.c", None, 5)] == ["account:a@b.c"]


@pytest.mark.parametrize("bad", ["", "short", "a" * 1025, "aaaaaaaaaaaa", "abababababab"])
def test_weak_passwords_are_refused(bad: str) -> None:
    with pytest.raises(WeakPassword):
        check_password(bad)


def test_password_hashes_are_argon2id_and_verify() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "correct horse battery!")
    assert not verify_password(None, "anything at all")
    assert not verify_password("not a hash", "anything at all")


def test_emails_are_normalised_and_checked() -> None:
    assert normalise_email("  Ops@Example.COM ") == "ops@example.com"
    for bad in ("no-at-sign", "a@b", "a b@c.d", "x" * 320 + "@e.com"):
        with pytest.raises(InvalidUser):
            normalise_email(bad)


def test_digest_is_sha256_hex() -> None:
    assert digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def _jwk(kid: str | None = None) -> dict[str, object]:
    jwk = public_jwk_of(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key())
    if kid:
        jwk["kid"] = kid
    return jwk


def test_kid_is_the_rfc7638_thumbprint_of_the_public_key() -> None:
    jwk = _jwk()
    assert jwk["kid"] == thumbprint(jwk)
    assert thumbprint({**jwk, "use": "enc", "extra": 1}) == jwk["kid"]  # only e, kty, n count
    assert set(jwk) == {"kty", "n", "e", "kid", "use", "alg"}


def test_parse_jwks_keeps_rsa_signing_keys_only() -> None:
    good = _jwk("good")
    document = {
        "keys": [
            good,
            {**_jwk("enc"), "use": "enc"},
            {**_jwk("hs"), "alg": "HS256"},
            {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            {**_jwk(), "kid": ""},
            "junk",
        ]
    }
    assert list(parse_jwks(document)) == ["good"]
    assert parse_jwks({"keys": "nope"}) == {} and parse_jwks([]) == {}


def test_jwks_url_defaults_under_the_issuer() -> None:
    assert jwks_url("https://x.auth0.com/", None) == "https://x.auth0.com/.well-known/jwks.json"
    assert jwks_url("https://x/", "https://keys/") == "https://keys/"
