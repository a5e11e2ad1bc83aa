"""``guardian control user …`` and ``guardian control signing-key rotate``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from guardian.control.context import ControlContext

T = TypeVar("T")
user_app = typer.Typer(help="Users of a tenant.", no_args_is_help=True)
key_app = typer.Typer(help="The built-in issuer's signing keys.", no_args_is_help=True)

# Same options as the rest of `guardian control` (defined here too: this module is imported
# while guardian.control.cli is still loading).
DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Control data folder (env GUARDIAN_CONTROL_DATA_DIR)."),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="Database (env GUARDIAN_CONTROL_DATABASE_URL)."),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Tenant = Annotated[str, typer.Option("--tenant", help="Tenant id.")]


def _run(
    data_dir: Path | None,
    database_url: str | None,
    work: Callable[[ControlContext, Session], T],
) -> T:
    """Run ``work`` in one system transaction; API errors exit 2 (bad input) or 1."""
    from guardian.common.api_errors import ApiError
    from guardian.control.cli import fail, load_settings
    from guardian.control.context import build_context

    ctx = build_context(load_settings(data_dir, database_url))
    try:
        with ctx.db.system() as session:
            return work(ctx, session)
    except ApiError as exc:
        raise fail(exc.message, 2 if exc.status in (400, 422) else 1) from None
    finally:
        ctx.db.dispose()


def _out(data: object, json_out: bool, text: str) -> None:
    from guardian.control.cli import out

    out(data, json_out, text)


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Argument(help="Email address (the login name).")],
    tenant: Tenant,
    role: Annotated[str, typer.Option("--role", help="admin | viewer")] = "viewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    subject: Annotated[
        str | None, typer.Option("--subject", help="`sub` of the user at the OIDC issuer.")
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    json_out: JsonOut = False,
) -> None:
    """Create a user; prints `{"user_id"}` with --json. Without a password (and without
    --subject) the user cannot sign in until one is set."""
    from guardian.control.auth.passwords import WeakPassword, check_password
    from guardian.control.auth.users import create_user
    from guardian.control.cli import fail

    password: str | None = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise fail("the password read from standard input is empty", 2)
        try:
            check_password(password)
        except WeakPassword as exc:
            raise fail(exc.message, 2) from None
    secret = password

    def work(_ctx: ControlContext, session: Session) -> str:
        user = create_user(
            session, tenant_id=tenant, email=email, role=role, password=secret, subject=subject
        )
        return user.id

    user_id = _run(data_dir, database_url, work)
    _out({"user_id": user_id}, json_out, f"user {user_id} ({email.strip().lower()})")


@user_app.command("list")
def user_list(
    tenant: Tenant,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    json_out: JsonOut = False,
) -> None:
    """List a tenant's users; prints `{"users": [...]}` with --json."""
    from guardian.control.auth.users import list_users
    from guardian.control.store.tables import Tenant as TenantRow

    def work(_ctx: ControlContext, session: Session) -> list[dict[str, Any]]:
        from guardian.common.api_errors import NotFound

        if session.get(TenantRow, tenant) is None:
            raise NotFound("no such tenant")
        return [
            {"id": u.id, "email": u.email, "role": u.role, "disabled": u.disabled_at is not None}
            for u in list_users(session, tenant)
        ]

    users = _run(data_dir, database_url, work)
    lines = [
        f"{u['id']}  {u['role']:<6}  {u['email']}{'  (disabled)' * u['disabled']}" for u in users
    ]
    _out({"users": users}, json_out, "\n".join(lines) or "no users")


@user_app.command("disable")
def user_disable(
    user: Annotated[str, typer.Argument(help="User id or email.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    json_out: JsonOut = False,
) -> None:
    """Disable a user: no more logins, refresh tokens revoked, access tokens refused."""
    from sqlalchemy import or_, select

    from guardian.common.api_errors import NotFound
    from guardian.control.auth.users import update_user
    from guardian.control.store.tables import User

    def work(_ctx: ControlContext, session: Session) -> str:
        row = session.scalars(
            select(User).where(or_(User.id == user, User.email == user.strip().lower()))
        ).first()
        if row is None:
            raise NotFound("no such user")
        return update_user(session, row.tenant_id, row.id, disabled=True).id

    user_id = _run(data_dir, database_url, work)
    _out({"user_id": user_id, "disabled": True}, json_out, f"user {user_id} disabled")


@key_app.command("rotate")
def key_rotate(
    data_dir: DataDir = None, database_url: DatabaseUrl = None, json_out: JsonOut = False
) -> None:
    """Make a new signing key; the old one stays published until its tokens expire."""
    from guardian.common.db import utcnow
    from guardian.control.auth.keys import rotate_signing_key

    def work(ctx: ControlContext, session: Session) -> str:
        return rotate_signing_key(session, ctx.sealer, utcnow())

    kid = _run(data_dir, database_url, work)
    _out({"kid": kid}, json_out, f"signing key {kid} is now active")


def register(control_app: typer.Typer) -> None:
    """Add the user and signing-key commands to ``control_app``."""
    control_app.add_typer(user_app, name="user")
    control_app.add_typer(key_app, name="signing-key")
