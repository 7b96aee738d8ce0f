"""The application factory: one codebase, three roles (aggregator, kiosk, all)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None):
    """Build the app for the configured role; raises ConfigError naming a bad variable."""
    from core import cli, config, database, errors, i18n, ratelimit, routing, security
    from core.database import configure_engine, engine_options
    from core.extensions import csrf, db, migrate

    settings = config.load(env, overrides)
    from core.private_files import private_dir, private_sqlite

    private_dir(settings["INSTANCE_PATH"])
    private_sqlite(settings["SQLALCHEMY_DATABASE_URI"])
    app = Flask(
        __name__,
        instance_path=settings["INSTANCE_PATH"],
        static_folder="static",
        static_url_path="/static",
    )
    app.config.update(settings)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
    from core.jsonsafe import SafeJSONProvider

    app.json = SafeJSONProvider(app)
    routing.init_app(app)
    if app.config["PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Client addresses (for rate limits and the audit log) come from the trusted proxies.
        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    logging.basicConfig(level=app.config["LOG_LEVEL"], format="%(levelname)s %(name)s %(message)s")

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    migrations = app.root_path.rsplit("/", 1)[0] + "/migrations"
    migrate.init_app(app, db, directory=migrations)
    csrf.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    database.init_app(app, errors.database_unavailable)
    ratelimit.init_app(app)
    cli.init_app(app)

    from core import models  # noqa: F401  (register every table on the metadata)
    from core.views import bp as core_bp

    app.register_blueprint(core_bp)
    from demo import register as register_demo

    register_demo(app)  # the demo's commands (seed-demo, demo-data); tooling, not product
    role = app.config["ROLE"]
    if role in ("kiosk", "all"):
        from kiosk import register as register_kiosk

        register_kiosk(app)
    if role in ("aggregator", "all"):
        from admin import register as register_admin
        from api import register as register_api
        from public import register as register_public
        from survey import register as register_survey

        register_admin(app)
        register_public(app)
        register_api(app)
        register_survey(app)
    return app
