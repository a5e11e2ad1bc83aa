"""The cache of verified access tokens: its lifetime bounds, invalidation and size limit."""

from __future__ import annotations

import pytest

from guardian.control.auth import users
from guardian.control.auth.principal import Principal
from guardian.control.auth.verifier import VerifiedTokens

ALICE = Principal("u-alice", "t-1", "admin", "alice@example.test")
BOB = Principal("u-bob", "t-1", "viewer", "bob@example.test")


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_an_entry_lives_for_the_ttl_and_never_past_the_tokens_exp() -> None:
    clock = Clock()
    cache = VerifiedTokens(clock, ttl=5.0)
    cache.put("token-a", ALICE, exp=clock.now + 60, changes=users.user_changes())
    cache.put("token-b", BOB, exp=clock.now + 2, changes=users.user_changes())
    assert cache.get("token-a") == ALICE and cache.get("token-b") == BOB
    clock.now += 1.999
    assert cache.get("token-a") == ALICE and cache.get("token-b") == BOB
    clock.now += 0.001  # token-b's exp: no longer vouched for
    assert cache.get("token-a") == ALICE and cache.get("token-b") is None
    clock.now += 3.0  # 5 s after token-a was verified
    assert cache.get("token-a") is None
    assert len(cache) == 0  # stale entries are dropped when looked at


def test_an_expired_token_is_not_stored_and_an_unknown_one_misses() -> None:
    clock = Clock()
    cache = VerifiedTokens(clock)
    cache.put("old", ALICE, exp=clock.now, changes=users.user_changes())
    assert cache.get("old") is None and len(cache) == 0
    assert cache.get("never seen") is None


def test_a_clock_that_steps_back_does_not_extend_an_entry() -> None:
    clock = Clock()
    cache = VerifiedTokens(clock, ttl=5.0)
    cache.put("token", ALICE, exp=clock.now + 60, changes=users.user_changes())
    clock.now -= 10
    assert cache.get("token") is None


def test_any_user_change_in_this_process_drops_the_entries() -> None:
    clock = Clock()
    cache = VerifiedTokens(clock)
    before = users.user_changes()
    cache.put("token", ALICE, exp=clock.now + 60, changes=before)
    assert cache.get("token") == ALICE
    users._bump()  # what update_user and delete_user do
    assert users.user_changes() == before + 1
    assert cache.get("token") is None
    # An entry made from a read that began before a change is not trusted either.
    cache.put("token", ALICE, exp=clock.now + 60, changes=before)
    assert cache.get("token") is None


def test_the_oldest_entries_go_first_when_full() -> None:
    clock = Clock()
    cache = VerifiedTokens(clock, max_entries=3)
    changes = users.user_changes()
    for n in range(5):
        cache.put(f"token-{n}", ALICE, exp=clock.now + 60, changes=changes)
    assert len(cache) == 3
    assert [cache.get(f"token-{n}") for n in range(5)] == [None, None, ALICE, ALICE, ALICE]


def test_entries_are_keyed_by_a_hash_not_the_token() -> None:
    clock = Clock()
    cache = VerifiedTokens(clock)
    cache.put("secret-token", ALICE, exp=clock.now + 60, changes=users.user_changes())
    assert "secret-token" not in repr(cache._entries)
    assert cache.get("secret-token ") is None  # another string, another key


@pytest.mark.parametrize(("ttl", "size"), [(-1.0, 10), (5.0, 0)])
def test_invalid_limits_are_refused(ttl: float, size: int) -> None:
    with pytest.raises(ValueError, match="ttl"):
        VerifiedTokens(Clock(), ttl=ttl, max_entries=size)


def test_a_refresh_is_due_once_in_the_last_fifth_of_the_entrys_life() -> None:
    clock = Clock()
    cache = VerifiedTokens(clock, ttl=4.0)
    changes = users.user_changes()
    cache.put("token", ALICE, exp=clock.now + 60, changes=changes)
    assert not cache.refresh_due("token") and not cache.refresh_due("unknown")
    clock.now += 3.1
    assert not cache.refresh_due("token")
    clock.now += 0.1
    assert cache.refresh_due("token")
    assert not cache.refresh_due("token")  # claimed: one refresh at a time
    assert cache.get("token") == ALICE  # still served meanwhile, within its bound
    cache.put("token", BOB, exp=clock.now + 60, changes=changes)  # the refresh's outcome
    assert cache.get("token") == BOB and not cache.refresh_due("token")
    clock.now += 3.9  # 7.1 s after the first verification, 3.9 s after the refresh
    assert cache.get("token") == BOB
    clock.now += 0.1
    assert cache.get("token") is None


def test_a_token_that_no_longer_verifies_is_forgotten() -> None:
    clock = Clock()
    cache = VerifiedTokens(clock, ttl=4.0)
    cache.put("token", ALICE, exp=clock.now + 60, changes=users.user_changes())
    clock.now += 3.5
    assert cache.refresh_due("token")
    cache.forget("token")
    assert cache.get("token") is None and not cache.refresh_due("token")
