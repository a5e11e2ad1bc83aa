"""PostgreSQL test fixtures: per-test databases cloned from per-session migrated templates.

Usage::

    from tests.pg import sqlalchemy_url

    def migrate_control(url: str) -> None:
        ...  # e.g. run alembic upgrade head against ``url``; close every connection

    def test_something(pg_database_factory):
        url = pg_database_factory("control", migrate_control)   # fresh, migrated clone
        engine = sqlalchemy.create_engine(sqlalchemy_url(url))
        ...
        engine.dispose()

    def test_raw(pg_url):  # fresh empty database
        with psycopg.connect(pg_url) as conn: ...

Tests using these fixtures are marked ``postgres`` automatically. When the server is
unreachable they are skipped, or failed when ``CI`` is true.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

URL_ENV = "GUARDIAN_TEST_DATABASE_URL"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
CONNECT_TIMEOUT_S = 3
START_WAIT_S = 15.0
PG_CONF_DIR = Path("/etc/postgresql")
PG_FIXTURES = frozenset({"pg_server", "pg_template", "pg_database_factory", "pg_url"})
_LOCAL_HOSTS = frozenset({"", "127.0.0.1", "localhost", "::1", "[::1]"})
_TEMPLATE_NAME = re.compile(r"[a-z][a-z0-9_]{0,29}")

Migrate = Callable[[str], None]
MakeTemplate = Callable[[str, Migrate], str]
MakeDatabase = Callable[[str, Migrate], str]


def is_ci() -> bool:
    """Whether we run under CI (``CI`` set to ``true`` or ``1``), where skips are failures."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1"}


def server_url() -> str:
    """The configured PostgreSQL server URL (a database on it that we may connect to)."""
    return os.environ.get(URL_ENV) or DEFAULT_URL


def database_url(url: str, dbname: str) -> str:
    """``url`` pointing at database ``dbname`` instead (user, host, port, query kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


def sqlalchemy_url(url: str) -> str:
    """A ``postgresql://`` URL rewritten for SQLAlchemy's psycopg 3 driver."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in {"postgresql", "postgres", "postgresql+psycopg"}:
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    return f"postgresql+psycopg://{rest}"


def _admin_connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)


def _probe(url: str) -> str | None:
    """``None`` when the server answers, else the connection error text."""
    try:
        with _admin_connect(url) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        # libpq messages span lines; one line keeps skip summaries readable.
        return " ".join(str(exc).split()) or type(exc).__name__
    return None


def _try_start_local_cluster(url: str) -> bool:
    """Start the Debian-packaged local cluster once; ``True`` if pg_ctlcluster reported success."""
    if (urlsplit(url).hostname or "") not in _LOCAL_HOSTS or not PG_CONF_DIR.is_dir():
        return False
    versions = [p.name for p in PG_CONF_DIR.iterdir() if p.is_dir()]
    if len(versions) != 1:
        return False
    cmd = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main", "start"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    # Non-zero also covers "already running": then waiting for *our* URL would not help.
    return done.returncode == 0


def _ensure_server(url: str) -> None:
    error = _probe(url)
    if error is not None and _try_start_local_cluster(url):
        deadline = time.monotonic() + START_WAIT_S
        while error is not None and time.monotonic() < deadline:
            time.sleep(0.5)
            error = _probe(url)
    if error is not None:
        reason = f"PostgreSQL not reachable at {url} (set {URL_ENV}): {error}"
        if is_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


def _drop_database(admin_url: str, dbname: str, *, template: bool = False) -> None:
    with _admin_connect(admin_url) as conn:
        if template:
            # A database flagged IS_TEMPLATE cannot be dropped.
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(sql.Identifier(dbname))
            )
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )


@dataclass
class _TemplateRegistry:
    """Templates built this session, keyed by caller-chosen name."""

    admin_url: str
    built: dict[str, tuple[str, Migrate]] = field(default_factory=dict)
    failed: dict[str, BaseException] = field(default_factory=dict)

    def get(self, name: str, migrate: Migrate) -> str:
        if not _TEMPLATE_NAME.fullmatch(name):
            raise ValueError(f"template name must match {_TEMPLATE_NAME.pattern}: {name!r}")
        if name in self.failed:
            # Re-raise the original error (or skip) instead of re-running a broken migration.
            raise self.failed[name]
        if name in self.built:
            dbname, known = self.built[name]
            if known != migrate:  # == so equal bound methods count as the same
                raise ValueError(f"template {name!r} already registered with {known!r}")
            return dbname
        dbname = f"guardian_tpl_{name}_{os.getpid()}"
        self._build(dbname, migrate, name)
        self.built[name] = (dbname, migrate)
        return dbname

    def _build(self, dbname: str, migrate: Migrate, name: str) -> None:
        ident = sql.Identifier(dbname)
        with _admin_connect(self.admin_url) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
            # template0 never has sessions, unlike template1, so concurrent runs cannot block us.
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(ident))
        try:
            migrate(database_url(self.admin_url, dbname))
        except BaseException as exc:
            self.failed[name] = exc
            _drop_database(self.admin_url, dbname)
            raise
        with _admin_connect(self.admin_url) as conn:
            # Cloning needs the template to be idle; cut off connections migrate() left open
            # (e.g. an undisposed SQLAlchemy pool) and refuse new ones.
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(
                    ident
                )
            )
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            )

    def drop_all(self) -> None:
        errors: list[str] = []
        for dbname, _ in self.built.values():
            try:
                _drop_database(self.admin_url, dbname, template=True)
            except psycopg.Error as exc:
                errors.append(f"{dbname}: {exc}")
        self.built.clear()
        if errors:
            raise RuntimeError("could not drop template databases: " + "; ".join(errors))


def _no_migration(url: str) -> None:
    """Migration for the empty-database template."""


@pytest.fixture(scope="session")
def pg_server() -> str:
    """URL of a reachable PostgreSQL server (skip, or fail under CI, when there is none)."""
    url = server_url()
    _ensure_server(url)
    return url


@pytest.fixture(scope="session")
def pg_template(pg_server: str) -> Iterator[MakeTemplate]:
    """Factory ``(name, migrate) -> template database name``; built once per session per name.

    ``migrate(url)`` runs against the new, empty template database and must leave nothing
    behind that depends on a live connection. Templates are dropped at session end.
    """
    registry = _TemplateRegistry(pg_server)
    yield registry.get
    registry.drop_all()


@pytest.fixture
def pg_database_factory(pg_server: str, pg_template: MakeTemplate) -> Iterator[MakeDatabase]:
    """Factory ``(name, migrate) -> URL`` of a fresh clone of template ``name``.

    Every call makes a new database; all are dropped (forcibly) when the test ends.
    """
    created: list[str] = []

    def make(name: str, migrate: Migrate) -> str:
        template = pg_template(name, migrate)
        dbname = f"guardian_test_{uuid.uuid4().hex[:8]}"
        with _admin_connect(pg_server) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(dbname), sql.Identifier(template)
                )
            )
        created.append(dbname)
        return database_url(pg_server, dbname)

    yield make

    errors: list[str] = []
    for dbname in created:
        try:
            _drop_database(pg_server, dbname)
        except psycopg.Error as exc:
            errors.append(f"{dbname}: {exc}")
    if errors:
        raise RuntimeError("could not drop test databases: " + "; ".join(errors))


@pytest.fixture
def pg_url(pg_database_factory: MakeDatabase) -> str:
    """URL of a fresh, empty database, dropped after the test."""
    return pg_database_factory("empty", _no_migration)


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``postgres`` marker so the plugin also works outside this project's ini."""
    config.addinivalue_line("markers", "postgres: needs a reachable PostgreSQL server")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that (directly or indirectly) uses a PostgreSQL fixture ``postgres``."""
    for item in items:
        if PG_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker("postgres")
