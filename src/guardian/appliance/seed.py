"""Make a seed image: validate the options, render the documents, write the ISO."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from guardian.appliance.cloud_config import WHEEL_DIR, render_meta_data, render_user_data
from guardian.appliance.iso import write_seed
from guardian.appliance.options import SeedOptions

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeedSummary:
    """What was written (no secrets: the token is not repeated)."""

    out: str
    hostname: str
    tenant: str
    relay: str | None
    wheel: str
    files: list[str]


def make_seed(options: SeedOptions, wheel: Path, out: Path) -> SeedSummary:
    """Write the NoCloud seed for ``options`` (validated here) carrying ``wheel`` to ``out``."""
    options = options.validated()
    user_data = render_user_data(options)
    files = {
        "user-data": user_data.encode(),
        "meta-data": render_meta_data(options, user_data).encode(),
        f"{WHEEL_DIR}/{wheel.name}": wheel.read_bytes(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    write_seed(out, files)
    logger.info("seed image written", extra={"out": str(out), "tenant": options.tenant})
    return SeedSummary(
        out=str(out),
        hostname=options.hostname or "",
        tenant=options.tenant,
        relay=options.relay,
        wheel=wheel.name,
        files=sorted(files),
    )
