"""Command-line tools: ``flask --app wsgi create-admin`` (the demo's commands are demo.cli)."""

from __future__ import annotations

import click
from flask import Flask

from core.extensions import db


def init_app(app: Flask) -> None:
    @app.cli.command("create-admin")
    @click.argument("username")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    def create_admin_command(username: str, password: str) -> None:
        """Create a system administrator account."""
        from core.services.users import AccountError, create_user

        try:
            create_user(username, password, role="admin")
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
        db.session.commit()
        click.echo(f"Created administrator {username.strip().lower()}.")
