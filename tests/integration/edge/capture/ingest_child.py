"""Run one capture ingest in a child process (``GUARDIAN_FAULTS`` may kill it mid-way).

``python -m tests.integration.edge.capture.ingest_child DATA_DIR DB_URL DEVICE SEQ
CAPTURED_AT IMAGE``; prints the result as JSON. ``DB_URL`` may be empty (SQLite in DATA_DIR).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path

from guardian.edge.capture.ingest import ingest_capture
from guardian.edge.config import CaptureSettings, EdgeSettings
from guardian.edge.context import build_context


def main(argv: list[str]) -> int:
    data_dir, db_url, device_id, seq, captured_at, image = argv
    settings = EdgeSettings(
        data_dir=Path(data_dir),
        database_url=db_url or None,
        capture=CaptureSettings(min_free_bytes=0),
    )
    ctx = build_context(settings, migrate=False)
    result = ingest_capture(
        ctx,
        device_id,
        int(seq),
        dt.datetime.fromisoformat(captured_at),
        Path(image).read_bytes(),
    )
    sys.stdout.write(json.dumps(dataclasses.asdict(result)) + "\n")
    ctx.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
