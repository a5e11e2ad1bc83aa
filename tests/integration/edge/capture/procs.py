"""Worker subprocesses for the crash and concurrency tests (logs to files, stopped by pid)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from guardian.edge.detect.models.store import default_models_dir
from tests.edge_fixtures import EdgeDb

READY = "capture worker started"


@dataclass
class WorkerProc:
    """One worker process and the file its log goes to."""

    proc: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self, threads: int = 1, timeout: float = 60.0) -> None:
        """Until ``threads`` workers have logged that they started (fails if the process exits)."""
        deadline = time.monotonic() + timeout
        while self.log_text().count(READY) < threads:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited {self.proc.returncode}:\n{self.log_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker not ready after {timeout}s:\n{self.log_text()}")
            time.sleep(0.05)

    def wait_exit(self, timeout: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            # The worker prints its threads' stacks on SIGUSR1: say where it is stuck.
            self.proc.send_signal(signal.SIGUSR1)
            time.sleep(1.0)
            raise AssertionError(f"worker still running:\n{self.log_text()}") from exc

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait: a clean stop exits 0."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)


@dataclass
class WorkerProcs:
    """Starts workers against a test database; ``kill_all`` ends the ones still running."""

    started: list[WorkerProc] = field(default_factory=list)

    def start(
        self,
        db: EdgeDb,
        log: Path,
        *,
        count: int = 1,
        faults: str = "",
        env: dict[str, str] | None = None,
    ) -> WorkerProc:
        child_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("GUARDIAN_EDGE_") and k != "GUARDIAN_FAULTS"
        }
        child_env.update(
            {
                "GUARDIAN_MODELS_DIR": str(default_models_dir()),
                "GUARDIAN_EDGE_LOG_FORMAT": "json",
                "GUARDIAN_EDGE_LOG_LEVEL": "INFO",
                "GUARDIAN_EDGE_DETECTOR__RELOAD_POLL_SECONDS": "0",
                "GUARDIAN_EDGE_QUEUE__POLL_SECONDS": "0.1",
                **({"GUARDIAN_FAULTS": faults} if faults else {}),
                **(env or {}),
            }
        )
        cmd = [
            sys.executable,
            "-m",
            "guardian.edge.capture.worker",
            "--data-dir",
            str(db.settings.data_dir),
            "--count",
            str(count),
        ]
        if db.settings.database_url:
            cmd += ["--database-url", db.settings.database_url]
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=child_env)
        worker = WorkerProc(proc, log)
        self.started.append(worker)
        return worker

    def kill_all(self) -> None:
        for worker in self.started:
            if worker.proc.poll() is None:
                worker.proc.kill()
                worker.proc.wait(10)
