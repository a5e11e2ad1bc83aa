"""Archive quota rules (pure): whether a blob fits, and the refusal the edge is shown."""

from __future__ import annotations

from dataclasses import dataclass


class QuotaExceeded(Exception):
    """Storing the blob would take the tenant over its plan's archive quota."""

    def __init__(self, used: int, adding: int, limit: int) -> None:
        super().__init__(
            f"archive quota exceeded: the plan allows {limit} bytes, {used} are used and this "
            f"blob needs {adding} more; delete archives or change plan, the edge keeps the job"
        )
        self.used, self.adding, self.limit = used, adding, limit


@dataclass(frozen=True, slots=True)
class Quota:
    """A tenant's limit (``None``: unlimited) and whether the control plane answered it lately."""

    limit: int | None
    fresh: bool


def fits(used: int, adding: int, limit: int | None) -> bool:
    """Whether ``adding`` more bytes keep ``used`` within ``limit`` (``None``: unlimited)."""
    if used < 0 or adding < 0:
        raise ValueError("sizes are never negative")
    return limit is None or used + adding <= limit


def require_fits(used: int, adding: int, limit: int | None) -> None:
    """Raise :class:`QuotaExceeded` unless the blob fits."""
    if not fits(used, adding, limit):
        assert limit is not None
        raise QuotaExceeded(used, adding, limit)
