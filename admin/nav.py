"""The admin navigation: the pages a signed-in user may open, in the order they are used."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, request, url_for
from flask_babel import lazy_gettext as _l

from admin.auth import current_user


@dataclass(frozen=True)
class NavItem:
    label: object
    roles: tuple[str, ...]
    endpoint: str

    def url(self) -> str:
        return url_for(self.endpoint)


ALL = ("admin", "manager", "viewer")
ITEMS = (
    NavItem(_l("Start"), ALL, endpoint="admin.home"),
    NavItem(_l("Dashboard"), ALL, endpoint="dashboard.index"),
    NavItem(_l("Units"), ALL, endpoint="admin_units.index"),
    NavItem(_l("Kiosks"), ("admin", "manager"), endpoint="admin_kiosks.fleet"),
    NavItem(_l("Procedures"), ("admin",), endpoint="admin_catalog.procedures"),
    NavItem(_l("Questionnaires"), ALL, endpoint="admin_questionnaires.index"),
    NavItem(_l("Users"), ("admin", "manager"), endpoint="admin_users.index"),
    NavItem(_l("Audit log"), ("admin",), endpoint="admin_audit.index"),
    NavItem(_l("API tokens"), ALL, endpoint="dashboard.tokens"),
    NavItem(_l("My account"), ALL, endpoint="admin_account.password"),
)


def nav_for(role: str) -> list[tuple[str, object, bool]]:
    """(url, label, is_current) of the entries a role may open."""
    entries = []
    for item in ITEMS:
        if role not in item.roles:
            continue
        url = item.url()
        current = request.path == url or (url != url_for("admin.home")
                                           and request.path.startswith(url.rstrip("/") + "/"))
        entries.append((url, item.label, current))
    return entries


def init_app(app: Flask) -> None:
    @app.context_processor
    def _admin_nav():
        if not request.path.startswith("/admin"):
            return {}
        user = current_user()
        if user is None or user.must_change_password:
            return {"admin_nav": [], "admin_user": user}
        return {"admin_nav": nav_for(user.role), "admin_user": user}
