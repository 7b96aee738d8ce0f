"""Command-line tools: ``flask --app wsgi seed-demo``, ``create-admin``."""

from __future__ import annotations

import os
import secrets

import click
from flask import Flask
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


# English words for the refusals create-admin may meet (the pages have them translated).
_ACCOUNT_WORDS = {
    "username.length": "A username has 1 to 80 characters.",
    "username.taken": "The username %(name)s is already taken.",
    "password.too_short": "A password needs at least %(n)d characters.",
    "password.too_long": "A password has at most %(n)d characters.",
    "password.is_username": "The password must not be the username.",
    "password.common": "This is one of the most common passwords.",
    "password.repeated": "Repeated characters such as “aaa” are easy to guess.",
    "password.sequence": "Sequences such as “abc” or “1234” are easy to guess.",
    "password.keyboard": "Keyboard rows such as “qwerty” are easy to guess.",
    "password.guessable": "Common words, names, dates and passwords are easy to guess.",
}


def _cli_words(error) -> str:
    from core.services.errors import words

    text = words(error, _ACCOUNT_WORDS, fallback=str(error))
    if error.code.startswith("password.") and error.code not in (
            "password.too_short", "password.too_long", "password.is_username"):
        text += " Choose a longer one, for example a few unrelated words."
    return text


def init_app(app: Flask) -> None:
    @app.cli.command("seed-demo")
    @click.option("--admin-user", default="admin", show_default=True)
    def seed_demo_command(admin_user: str) -> None:
        """Create the demo organisation and an admin login (idempotent)."""
        from core.services.demo import seed_demo

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

    @app.cli.command("demo-data")
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
        from core.services.demo_data import Refused, generate

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

    @app.cli.command("create-admin")
    @click.argument("username")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    def create_admin_command(username: str, password: str) -> None:
        """Create a system administrator account."""
        from core.services.accounts.users import create_user
        from core.services.errors import ServiceError

        try:
            create_user(username, password, role="admin")
        except ServiceError as exc:
            raise click.ClickException(_cli_words(exc)) from None
        db.session.commit()
        click.echo(f"Created administrator {username.strip().lower()}.")
