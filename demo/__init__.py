"""Demo and development tooling, outside the product: the demo organisation (``seed``), its
generated history (``history``), the commands that write them (``cli``) and ``make run``
(``run``). The product never imports this package; ``core.create_app`` adds its commands."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Add ``flask seed-demo`` and ``flask demo-data`` to the app's command line."""
    from demo.cli import demo_data_command, seed_demo_command

    app.cli.add_command(seed_demo_command)
    app.cli.add_command(demo_data_command)
