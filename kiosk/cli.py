"""`flask --app wsgi kiosk ...`: commands run on the kiosk device. Areas add their commands here."""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask.cli import AppGroup

kiosk_cli = AppGroup("kiosk", help="Commands for the kiosk device.")


@kiosk_cli.command("enroll")
@click.option("--server", default=None,
              help="The aggregator's base URL, e.g. https://... (default: SIPAS_AGGREGATOR_URL).")
@click.option("--code", required=True, help="The one-time enrollment code from the admin page.")
@click.option("--force", is_flag=True, help="Replace an existing enrollment.")
def enroll_command(server: str | None, code: str, force: bool) -> None:
    """Enroll this kiosk: exchange the code for its id and key (kept owner-only)."""
    from flask import current_app

    from kiosk import identity, sync

    # SIPAS_AGGREGATOR_URL seeds the address; the credentials then keep the one enrolled with.
    server = server or current_app.config.get("AGGREGATOR_URL")
    if not server:
        raise click.UsageError("Give --server or set SIPAS_AGGREGATOR_URL.")
    try:
        state = sync.enroll(server, code, replace=force, actor="cli")
    except sync.SyncFailure as exc:
        if exc.code == "already_enrolled":
            raise click.ClickException(
                "This kiosk is already enrolled. Use --force to replace its identity "
                "(send or export its unsent ratings first).") from None
        raise click.ClickException(str(exc)) from None
    config = state.config or {}
    click.echo(f"Enrolled as kiosk {state.kiosk_public_id} "
               f"({(config.get('counter') or {}).get('name', '?')}, "
               f"{(config.get('unit') or {}).get('name', '?')}).")
    click.echo(f"Credentials stored in {identity.path()} (mode 0600).")


@kiosk_cli.command("sync")
@click.option("--once", is_flag=True, help="Stop after the first successful cycle.")
@click.option("--max-seconds", type=float, default=None, help="Give up after this long.")
def sync_command(once: bool, max_seconds: float | None) -> None:
    """Push unsent ratings and pull configuration, forever (or --once)."""
    from kiosk import sync

    worker = sync.Worker(echo=click.echo)
    done = worker.run(once=once, max_seconds=max_seconds)
    if (once or max_seconds is not None) and not done:
        raise click.ClickException("sync did not complete in time")


@kiosk_cli.command("export-bundle")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def export_bundle_command(file: Path) -> None:
    """Write a signed file of every unsent rating, to carry to the aggregator by hand."""
    from kiosk import sync

    try:
        data, count = sync.export_bundle()
    except sync.SyncFailure as exc:
        raise click.ClickException(str(exc)) from None
    tmp = file.with_suffix(file.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, file)
    click.echo(f"Exported {count} unsent ratings to {file}. They stay queued here until the "
               "aggregator confirms them.")
