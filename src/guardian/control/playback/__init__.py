"""Clip and snapshot playback: short-lived tokens the relay verifies, and the relay URLs."""

from guardian.control.playback.issue import (
    Playback,
    PlaybackTarget,
    PlaybackUnavailable,
    issue_playback,
    resolve_target,
    sign_target,
)
from guardian.control.playback.naming import download_name, validate_public_url

__all__ = [
    "Playback",
    "PlaybackTarget",
    "PlaybackUnavailable",
    "download_name",
    "issue_playback",
    "resolve_target",
    "sign_target",
    "validate_public_url",
]
