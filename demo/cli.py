"""The demo's commands: ``flask --app wsgi seed-demo`` and ``demo-data`` (demo.register)."""

from __future__ import annotations

import os
import secrets

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from core.extensions import db


def _ensure_admin(username: str, password: str) -> bool:
    """Create the admin account unless it exists; True when it was created."""
    from core.models import User
    from core.services.accounts.users import create_user

    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        return False
    create_user(username, password, role="admin", full_name="Quản trị hệ thống")
    db.session.commit()
    return True


@click.command("seed-demo")
@with_appcontext
@click.option("--admin-user", default="admin", show_default=True)
def seed_demo_command(admin_user: str) -> None:
    """Create the demo organisation and an admin login (idempotent)."""
    from demo.seed import seed_demo

    summary = seed_demo()
    password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    created = _ensure_admin(admin_user, password)
    click.echo(
        f"Demo organisation: {summary.units} units, {summary.counters} counters, "
        f"{summary.officers} officers, {summary.procedures} procedures."
    )
    if created:
        click.echo(f"Admin login: {admin_user} / {password}")
    else:
        click.echo(
            f"Admin login: {admin_user} (already existed; its password was not changed)"
        )


@click.command("demo-data")
@with_appcontext
@click.option("--ratings", default=10_000, show_default=True, help="kiosk taps to generate")
@click.option("--responses", default=1_000, show_default=True, help="phone surveys")
@click.option("--months", default=24, show_default=True, help="months of history")
@click.option("--seed", default=2026, show_default=True)
@click.option(
    "--existing", type=click.Choice(["refuse", "append", "replace", "skip"]),
    default="refuse", show_default=True,
    help="when generated history is already in the period: refuse (change nothing), "
         "append to it, replace it, or skip (exit 0 without generating)",
)
def demo_data_command(ratings: int, responses: int, months: int, seed: int,
                      existing: str) -> None:
    """Generate realistic rating and survey history (with rollups) for the demo, under
    synthetic kiosks of its own: real kiosks are never touched."""
    from demo.history import Refused, generate

    if ratings < 0 or responses < 0 or not 1 <= months <= 120:
        raise click.BadParameter("counts must be >= 0 and months between 1 and 120")
    try:
        summary = generate(ratings, responses, months=months, seed=seed,
                           progress=click.echo, existing=existing)
    except Refused as exc:
        raise click.ClickException(exc.message) from None
    if summary.skipped:
        click.echo(f"Demo history already present from {summary.first_day} to "
                   f"{summary.last_day}; nothing generated.")
        return
    if summary.removed_ratings or summary.removed_responses:
        click.echo(f"Replaced {summary.removed_ratings} ratings and "
                   f"{summary.removed_responses} responses of earlier demo history.")
    click.echo(
        f"Generated {summary.ratings} ratings, {summary.responses} responses "
        f"({summary.answers} answers) from {summary.first_day} to {summary.last_day}."
    )
