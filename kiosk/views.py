"""Kiosk views: the touch screen at the counter. Thin: parse, call kiosk.services, render."""

from __future__ import annotations

from flask import Blueprint, render_template

from kiosk import services

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk", template_folder="templates",
               static_folder="static", static_url_path="/kiosk-static")


@bp.get("/")
def idle():
    """The idle screen: the question and one large button per level of the configured scale."""
    return render_template("kiosk/idle.html", screen=services.idle_screen())
