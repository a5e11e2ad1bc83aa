"""``guardian appliance …``: seed images for new edge appliances, the systemd files."""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from guardian.appliance.options import SeedError, SeedOptions, parse_ssh_keys

appliance_app = typer.Typer(
    help="Edge appliances: cloud-init seed images, systemd units.", no_args_is_help=True
)


def _fail(message: str, code: int = 2) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code)


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"cannot read {what} {path}: {exc}") from exc


@appliance_app.command("seed")
def seed_command(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id the edge belongs to.")],
    token: Annotated[
        str,
        typer.Option("--token", help="The site's single-use bootstrap token (control plane)."),
    ],
    out: Annotated[Path, typer.Option("--out", help="Seed image to write, e.g. seed.iso.")],
    relay: Annotated[
        str | None,
        typer.Option(
            "--relay",
            help="The relay's link address HOST:PORT. Without it the appliance installs but "
            "waits for GUARDIAN_ENROLL_RELAY in /etc/guardian/enroll.env.",
        ),
    ] = None,
    hostname: Annotated[
        str | None,
        typer.Option("--hostname", help="Host name (default guardian-edge-<tenant prefix>)."),
    ] = None,
    ssh_key: Annotated[
        list[Path] | None,
        typer.Option(
            "--ssh-key", help="authorized_keys-style file for the 'guardian' login (repeatable)."
        ),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option("--ca-file", help="The relay's CA certificate (PEM), pinned at enrolment."),
    ] = None,
    wheel: Annotated[
        Path | None,
        typer.Option(
            "--wheel",
            help="Guardian wheel to install (default: built from this checkout).",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Build a cloud-init NoCloud seed image (ISO, label cidata) for Ubuntu 24.04 autoinstall
    that installs Guardian's edge, writes its config and enrols it on first boot."""
    from guardian.appliance.seed import make_seed
    from guardian.appliance.wheel import build_wheel, check_wheel, source_tree

    keys: tuple[str, ...] = ()
    for path in ssh_key or []:
        keys += parse_ssh_keys(_read(path, "--ssh-key"))
    ca_pem = _read(ca_file, "--ca-file") if ca_file is not None else None
    options = SeedOptions(
        tenant=tenant,
        token=token,
        # Replaced below by the real wheel's name; checking the rest first saves a build.
        wheel_name=wheel.name if wheel is not None else "guardian-0-py3-none-any.whl",
        relay=relay,
        hostname=hostname,
        ssh_keys=keys,
        ca_pem=ca_pem,
    )
    with tempfile.TemporaryDirectory(prefix="guardian-seed-") as tmp:
        try:
            options.validated()
            if wheel is None:
                root = source_tree()
                if root is None:
                    raise SeedError(
                        "this Guardian is not a source checkout: pass --wheel FILE "
                        "(a wheel built with `pip wheel --no-deps .`)"
                    )
                wheel = build_wheel(root, Path(tmp))
            check_wheel(wheel)
            summary = make_seed(dataclasses.replace(options, wheel_name=wheel.name), wheel, out)
        except SeedError as exc:
            raise _fail(str(exc)) from exc
    if relay is None:
        sys.stderr.write(
            "warning: no --relay: the appliance will not enrol until GUARDIAN_ENROLL_RELAY is "
            "set in /etc/guardian/enroll.env\n"
        )
    if not keys:
        sys.stderr.write("warning: no --ssh-key: nobody can log in to the appliance over SSH\n")
    data = dataclasses.asdict(summary)
    text = (
        f"wrote {summary.out} for tenant {summary.tenant} (host {summary.hostname}, "
        f"wheel {summary.wheel}); it holds a bootstrap token: keep it private"
    )
    sys.stdout.write((json.dumps(data) if json_out else text) + "\n")


@appliance_app.command("units")
def units_command(
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder to write the files to.")],
) -> None:
    """Write the systemd units, sysusers.d file and example env files (deploy/systemd/)."""
    from guardian.appliance.units import FILES

    for name, text in FILES.items():
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    sys.stderr.write(f"wrote {len(FILES)} files to {out_dir}\n")
