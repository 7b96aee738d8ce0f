"""`flask --app wsgi kiosk ...`: commands run on the kiosk device. Areas add their commands here."""

from __future__ import annotations

from flask.cli import AppGroup

kiosk_cli = AppGroup("kiosk", help="Commands for the kiosk device.")
