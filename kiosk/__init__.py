"""The kiosk role: touch UI at the counter, local capture, outbox and sync client."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from core.errors import register_outage_page
    from kiosk.cli import kiosk_cli
    from kiosk.views import bp, outage_screen

    app.register_blueprint(bp)
    app.cli.add_command(kiosk_cli)
    register_outage_page(app, bp.name, outage_screen)
