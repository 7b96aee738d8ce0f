"""The public phone survey at /s/<token>. Thin: parse, call survey services, render."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("survey", __name__, url_prefix="/s", template_folder="templates")
