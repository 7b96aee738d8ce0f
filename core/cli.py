"""Command-line tools: ``flask --app wsgi create-admin`` (the demo's commands are demo.cli)."""

from __future__ import annotations

import click
from flask import Flask

from core.extensions import db

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
