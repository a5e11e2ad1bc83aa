"""``guardian bench archive`` reports throughputs, the Argon2id time and its seal goal."""

from __future__ import annotations

from guardian.bench.archive import SEAL_RATIO_TARGET, run_archive_bench


def test_the_report_has_the_figures_and_the_goal() -> None:
    report = run_archive_bench(megabytes=4, rounds=2)

    for key in ("raw_encrypt_mb_s", "seal_mb_s", "raw_decrypt_mb_s", "open_mb_s"):
        assert report[key] > 0, key
    assert report["argon2id_ms_median"] > 1  # 19 MiB of Argon2id is never free
    [goal] = report["goals"]
    assert goal == {
        "name": "seal_ratio",
        "value": report["seal_ratio"],
        "target": SEAL_RATIO_TARGET,
        "better": "higher",
    }
