"""The browser session: cookies holding the built-in issuer's tokens, CSRF tokens, refresh.

The access and refresh tokens live in HttpOnly, SameSite=Lax cookies (Secure over https);
page scripts never see them. Form posts carry a double-submit CSRF token: a random value
in its own HttpOnly cookie that the server also renders into every form (and a
``<meta>`` tag for script requests); a post whose value does not match is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.responses import Response

from guardian.control.auth.issuer import TokenPair

ACCESS_COOKIE = "guardian_access"
REFRESH_COOKIE = "guardian_refresh"
CSRF_COOKIE = "guardian_csrf"
TZ_COOKIE = "guardian_tz"  # the viewer's IANA zone, set by the page script (not a secret)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
CSRF_BYTES = 32
# A refresh token rotates on use and a second use revokes the session: requests a page
# fires together (the page, its live stream) share one rotation for this long.
REFRESH_SHARE_S = 30.0


def new_csrf_token() -> str:
    """A fresh random CSRF token."""
    return secrets.token_urlsafe(CSRF_BYTES)


def csrf_matches(cookie: str | None, given: str | None) -> bool:
    """Whether a posted CSRF token equals the cookie's (constant time; empty never matches)."""
    if not cookie or not given:
        return False
    return hmac.compare_digest(cookie.encode(), given.encode())


def _cookie(response: Response, name: str, value: str, *, secure: bool, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, secure=secure, samesite="lax"
    )


def set_session(response: Response, pair: TokenPair, *, secure: bool, refresh_max_age: int) -> None:
    """Store a token pair in the session cookies."""
    _cookie(response, ACCESS_COOKIE, pair.access_token, secure=secure, max_age=refresh_max_age)
    _cookie(response, REFRESH_COOKIE, pair.refresh_token, secure=secure, max_age=refresh_max_age)


def clear_session(response: Response, *, secure: bool) -> None:
    """Forget the session cookies."""
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="lax")


def set_csrf(response: Response, token: str, *, secure: bool) -> None:
    """Store the CSRF token (a browser-session cookie)."""
    response.set_cookie(CSRF_COOKIE, token, path="/", httponly=True, secure=secure, samesite="lax")


class RefreshShare:
    """Rotates a refresh token at most once per ``share_s``: callers presenting the same
    token meanwhile get the same new pair (bounded, thread-safe, in-process).

    Without it two requests of one page refreshing together would present the token twice,
    and the issuer treats a second use as theft and revokes the session.
    """

    def __init__(
        self,
        rotate: Callable[[str], TokenPair],
        share_s: float = REFRESH_SHARE_S,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self._rotate = rotate
        self._share_s = share_s
        self._clock = clock
        self._max = max_entries
        self._done: OrderedDict[str, tuple[float, TokenPair]] = OrderedDict()
        self._lock = threading.Lock()

    def refresh(self, refresh_token: str) -> TokenPair:
        """The new pair for ``refresh_token`` (the issuer's errors propagate)."""
        key = hashlib.sha256(refresh_token.encode()).hexdigest()
        with self._lock:  # one rotation at a time: refreshes are rare
            now = self._clock()
            while self._done and next(iter(self._done.values()))[0] <= now:
                self._done.popitem(last=False)
            cached = self._done.get(key)
            if cached is not None:
                return cached[1]
            pair = self._rotate(refresh_token)
            self._done[key] = (now + self._share_s, pair)
            while len(self._done) > self._max:
                self._done.popitem(last=False)
            return pair
