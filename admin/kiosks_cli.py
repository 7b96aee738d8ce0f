"""`flask --app wsgi kiosks ...`: register, list, revoke and rotate kiosks; import bundles.

For operators at the aggregator; `register` prints the one-time code as "Enrollment code: CODE".
A command is not a request: it commits its own work once the service has done it.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from core.extensions import db
from core.models import Kiosk
from core.services.errors import ServiceError
from core.services.sync import bundles, registry

kiosks_cli = AppGroup("kiosks", help="Manage kiosks on the aggregator.")


def _kiosk(public_id: str) -> Kiosk:
    kiosk = registry.by_public_id(public_id)
    if kiosk is None:
        raise click.ClickException(f"No kiosk with id {public_id}.")
    return kiosk


@kiosks_cli.command("register")
@click.option("--unit", "unit_code", required=True, help="Unit code, e.g. T-DEMO-TTHCC.")
@click.option("--counter", "counter_code", required=True, help="Counter code within the unit.")
@click.option("--name", required=True, help="A name people recognise, e.g. 'Kiosk quầy 01'.")
def register_command(unit_code: str, counter_code: str, name: str) -> None:
    """Register a kiosk and print its one-time enrollment code."""
    try:
        counter = registry.find_counter(unit_code, counter_code)
        done = registry.register(counter, name)
    except ServiceError as exc:
        raise click.ClickException(f"Cannot register the kiosk: {exc.code}") from None
    db.session.commit()
    expires = done.kiosk.enrollment_expires_at
    click.echo(f"Kiosk {done.kiosk.public_id} registered at {unit_code}/{counter_code}.")
    click.echo(f"Enrollment code: {done.code}")
    click.echo(f"Valid until {expires:%Y-%m-%d %H:%M} UTC, once. Only its hash is stored.")


@kiosks_cli.command("list")
def list_command() -> None:
    """List kiosks with their status and sync health."""
    devices = select(Kiosk).where(Kiosk.synthetic.is_(False)).order_by(Kiosk.id)
    for kiosk in db.session.scalars(devices):
        seen = f"{kiosk.last_seen_at:%Y-%m-%d %H:%M}" if kiosk.last_seen_at else "never"
        click.echo(f"{kiosk.public_id}  {kiosk.status:8}  {kiosk.name}  last seen {seen}  "
                   f"seq {kiosk.contiguous_seq}/{kiosk.max_seq}  queue {kiosk.queue_depth}")


@kiosks_cli.command("revoke")
@click.argument("kiosk_id")
def revoke_command(kiosk_id: str) -> None:
    """Revoke a kiosk: every further request from it is refused."""
    try:
        registry.revoke(_kiosk(kiosk_id))
    except ServiceError as exc:
        raise click.ClickException(f"Cannot revoke: {exc.code}") from None
    db.session.commit()
    click.echo(f"Kiosk {kiosk_id} revoked.")


@kiosks_cli.command("reenroll")
@click.argument("kiosk_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reenroll_command(kiosk_id: str, yes: bool) -> None:
    """Cut off a leaked key now and print a new one-time code for the same kiosk.

    The kiosk's requests are refused until a technician enrolls it again with the code
    (`flask --app wsgi kiosk enroll --force --server URL --code CODE` on the device); its queued
    ratings then go out under the new enrollment.
    """
    kiosk = _kiosk(kiosk_id)
    if not yes:
        click.confirm(f"Refuse every request of kiosk {kiosk.name!r} ({kiosk_id}) until it is "
                      "enrolled again?", abort=True)
    try:
        done = registry.reenroll(kiosk)
    except ServiceError as exc:
        raise click.ClickException(f"Cannot re-enroll: {exc.code}") from None
    db.session.commit()
    expires = done.kiosk.enrollment_expires_at
    click.echo(f"Kiosk {kiosk_id}: its key is refused from now on.")
    click.echo(f"Enrollment code: {done.code}")
    click.echo(f"Valid once, until {expires:%Y-%m-%d %H:%M} UTC. On the device run: "
               f"flask --app wsgi kiosk enroll --force --server "
               f"{current_app.config['PUBLIC_URL']} --code {done.code}")


@kiosks_cli.command("rotate")
@click.argument("kiosk_id")
def rotate_command(kiosk_id: str) -> None:
    """Give a kiosk a new key for hygiene (it picks it up at its next sync). Not for a leaked
    key: a copy of the old key could fetch the new one too; use `reenroll` for that."""
    try:
        registry.rotate(_kiosk(kiosk_id))
    except ServiceError as exc:
        raise click.ClickException(f"Cannot rotate: {exc.code}") from None
    db.session.commit()
    hours = current_app.config["KEY_ROTATION_GRACE_HOURS"]
    click.echo(f"Kiosk {kiosk_id}: new key issued; the previous key may only fetch it, for at "
               f"most {hours} h or until the kiosk first uses the new key.")


@kiosks_cli.command("import-bundle")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_bundle_command(file: Path) -> None:
    """Import a bundle exported by an offline kiosk (importing it twice is harmless)."""
    try:
        result = bundles.import_bundle(file.read_bytes(), current_app.config["SYNC_BATCH_SIZE"])
    except ServiceError as exc:
        raise click.ClickException(f"Bundle refused: {exc.code}") from None
    db.session.commit()
    click.echo(f"Bundle from {result.kiosk_name}: {result.accepted} accepted, "
               f"{result.duplicates} already stored, {result.rejected} rejected.")
    for reason, count in sorted(result.reasons.items()):
        click.echo(f"  rejected {count}: {reason}")
