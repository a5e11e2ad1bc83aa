"""Tests for the PostgreSQL fixtures in tests/pg.py and the CI skip-is-failure rule."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.pg import URL_ENV, MakeDatabase, MakeTemplate, database_url, sqlalchemy_url

ROOT = Path(__file__).resolve().parents[3]

_migrations_run: list[str] = []
_clones_seen: list[str] = []


def migrate_cameras(url: str) -> None:
    """Test migration: one table, one seed row."""
    _migrations_run.append(url)
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE camera (id serial PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO camera (name) VALUES ('seed')")


def _names(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT name FROM camera ORDER BY id").fetchall()
    return [str(row[0]) for row in rows]


def _dbname(url: str) -> str:
    return url.rsplit("/", 1)[-1]


@pytest.mark.parametrize("writer", ["first", "second"])
def test_each_test_gets_a_fresh_migrated_clone(
    pg_database_factory: MakeDatabase, writer: str
) -> None:
    url = pg_database_factory("cameras", migrate_cameras)
    assert _names(url) == ["seed"]  # nothing left over from the other parametrisation
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO camera (name) VALUES (%s)", (writer,))
    assert _names(url) == ["seed", writer]
    assert _dbname(url) not in _clones_seen
    _clones_seen.append(_dbname(url))


def test_clones_in_one_test_are_independent(pg_database_factory: MakeDatabase) -> None:
    a = pg_database_factory("cameras", migrate_cameras)
    b = pg_database_factory("cameras", migrate_cameras)
    assert a != b
    with psycopg.connect(a) as conn:
        conn.execute("INSERT INTO camera (name) VALUES ('only-in-a')")
    assert _names(a) == ["seed", "only-in-a"]
    assert _names(b) == ["seed"]


def test_template_is_migrated_once_per_session(
    pg_template: MakeTemplate, pg_database_factory: MakeDatabase
) -> None:
    pg_database_factory("cameras", migrate_cameras)
    first = pg_template("cameras", migrate_cameras)
    assert pg_template("cameras", migrate_cameras) == first
    assert first.startswith("guardian_tpl_cameras_")
    assert len(_migrations_run) == 1


def test_template_name_clash_is_an_error(pg_template: MakeTemplate) -> None:
    pg_template("cameras", migrate_cameras)
    with pytest.raises(ValueError, match="already registered"):
        pg_template("cameras", lambda url: None)
    with pytest.raises(ValueError, match="template name"):
        pg_template("Bad Name", migrate_cameras)


def test_template_rejects_connections(pg_server: str, pg_template: MakeTemplate) -> None:
    # Connections to a template would make CREATE DATABASE ... TEMPLATE fail for everyone.
    template = pg_template("cameras", migrate_cameras)
    with pytest.raises(psycopg.OperationalError, match="not currently accepting connections"):
        psycopg.connect(database_url(pg_server, template), connect_timeout=3).close()


def test_pg_url_is_an_empty_database(pg_url: str) -> None:
    assert _dbname(pg_url).startswith("guardian_test_")
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
        conn.execute("CREATE TABLE scratch (x int)")
    assert tables == (0,)


def test_pg_url_works_with_sqlalchemy(pg_url: str) -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    engine = sqlalchemy.create_engine(sqlalchemy_url(pg_url))
    try:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT current_database()")).scalar() == (
                _dbname(pg_url)
            )
    finally:
        engine.dispose()


def test_sqlalchemy_url() -> None:
    assert sqlalchemy_url("postgresql://u@h:1/d") == "postgresql+psycopg://u@h:1/d"
    assert (
        sqlalchemy_url("postgres://u@h/d?sslmode=off") == "postgresql+psycopg://u@h/d?sslmode=off"
    )
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        sqlalchemy_url("mysql://u@h/d")


def test_database_url_keeps_everything_but_the_name() -> None:
    assert (
        database_url("postgresql://u:p@h:5433/test?sslmode=disable", "other")
        == "postgresql://u:p@h:5433/other?sslmode=disable"
    )


def test_postgres_marker_is_added(request: pytest.FixtureRequest, pg_url: str) -> None:
    assert request.node.get_closest_marker("postgres") is not None


def test_postgres_marker_not_added_without_fixture(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("postgres") is None


# --- Behaviour only observable from outside a pytest session (teardown, skip, CI rule) ---

_INNER_PG_TESTS = """
import json, os, psycopg

def migrate(url):
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE t (x int)")

def _record(url):
    with open(os.environ["NAMES_FILE"], "a") as fh:
        fh.write(json.dumps(url.rsplit("/", 1)[-1]) + "\\n")

def test_one(pg_database_factory, pg_template):
    _record(pg_database_factory("inner", migrate))
    _record(pg_database_factory("inner", migrate))
    _record("tpl:" + pg_template("inner", migrate))

def test_two(pg_url):
    _record(pg_url)
"""


def _run_inner(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str
) -> pytest.RunResult:
    # A subprocess gets a clean interpreter: no state or warning filters shared with us.
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return pytester.runpytest_subprocess(
        "-p", "tests.conftest", "-p", "no:cacheprovider", "-rA", *args
    )


def test_databases_are_dropped_after_the_session(
    pg_server: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    names_file = pytester.path / "names.jsonl"
    monkeypatch.setenv("NAMES_FILE", str(names_file))
    monkeypatch.setenv(URL_ENV, pg_server)
    monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(test_inner=_INNER_PG_TESTS)

    result = _run_inner(pytester, monkeypatch)

    result.assert_outcomes(passed=2)
    recorded = [json.loads(line) for line in names_file.read_text().splitlines()]
    clones = [name for name in recorded if not name.startswith("tpl:")]
    templates = [name.removeprefix("tpl:") for name in recorded if name.startswith("tpl:")]
    assert len(clones) == 3
    assert len(set(clones)) == 3
    assert len(templates) == 1
    with psycopg.connect(pg_server) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname = ANY(%s)", (clones + templates,)
        ).fetchall()
    assert rows == []


_INNER_NEEDS_PG = """
def test_needs_db(pg_url):
    pass
"""


def test_unreachable_server_skips(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(URL_ENV, "postgresql://postgres@127.0.0.1:1/test")
    monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(test_inner=_INNER_NEEDS_PG)
    result = _run_inner(pytester, monkeypatch)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["*PostgreSQL not reachable at postgresql://postgres@127.0.0.1:1/test*"]
    )


def test_unreachable_server_fails_under_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(URL_ENV, "postgresql://postgres@127.0.0.1:1/test")
    monkeypatch.setenv("CI", "true")
    pytester.makepyfile(test_inner=_INNER_NEEDS_PG)
    result = _run_inner(pytester, monkeypatch)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*PostgreSQL not reachable at postgresql://postgres@127.0.0.1:1/test*"]
    )


_INNER_SKIPS = """
import pytest

def test_skips_in_body():
    pytest.skip("no camera attached")

@pytest.mark.skip(reason="marked away")
def test_skip_marker():
    pass

@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert False

def test_passes():
    pass
"""


def _tier_dir(pytester: pytest.Pytester, tier: str) -> Path:
    # No __init__.py: an inner "tests" package would clash with ours, which is already imported.
    directory = pytester.path / "tests" / tier
    directory.mkdir(parents=True)
    return directory


def _make_tiers(pytester: pytest.Pytester) -> None:
    for tier in ("integration", "e2e", "unit"):
        (_tier_dir(pytester, tier) / f"test_{tier}_skips.py").write_text(_INNER_SKIPS)


@pytest.mark.parametrize("ci_value", ["true", "1", "TRUE"])
def test_ci_turns_integration_skips_into_failures(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci_value: str
) -> None:
    monkeypatch.setenv("CI", ci_value)
    _make_tiers(pytester)
    result = _run_inner(pytester, monkeypatch)
    # Per strict tier: the body skip fails, the marker skip errors (it happens in setup),
    # xfail stays xfail. Unit-tier skips stay skips.
    result.assert_outcomes(failed=2, errors=2, skipped=2, xfailed=3, passed=3)
    result.stdout.fnmatch_lines(
        [
            "*skipped under CI=true*no camera attached*",
            "*skipped under CI=true*marked away*",
        ]
    )
    assert result.ret != 0


@pytest.mark.parametrize("ci_value", [None, "false", "0", ""])
def test_without_ci_skips_stay_skips(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci_value: str | None
) -> None:
    if ci_value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci_value)
    _make_tiers(pytester)
    result = _run_inner(pytester, monkeypatch)
    result.assert_outcomes(skipped=6, xfailed=3, passed=3)
    assert result.ret == 0


def test_ci_fails_module_level_skip_in_integration_tier(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    (_tier_dir(pytester, "integration") / "test_gone.py").write_text(
        "import pytest\npytest.skip('driver missing', allow_module_level=True)\n"
    )
    result = _run_inner(pytester, monkeypatch)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*skipped under CI=true*driver missing*"])
