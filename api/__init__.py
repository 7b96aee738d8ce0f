"""The JSON API under /api/v1, for programs: the kiosks' sync endpoint, the reporting API and
the OpenAPI document that describes both (served by the aggregator)."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from api import reports, root, sync

    app.register_blueprint(root.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(sync.bp)
