"""Fixtures for the admin tests: the demo organisation with one account per role.

Accounts (all with PASSWORD):
- ``root``      system administrator;
- ``lan``       manager of the provincial service centre (T-DEMO-TTHCC);
- ``xem``       viewer of the service centre;
- ``binh``      manager of the district (T-DEMO-H1) and its communes;
- ``xem-h1``    viewer of the district.
The service centre and the district are siblings, so each one's ids are "another unit's" for
the other: the IDOR tests use them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from sqlalchemy import select

from core.extensions import db
from core.models import Counter, Officer, Unit, User

PASSWORD = "correct-horse-battery-1"


# argon2id with the smallest cost: the production cost (about 0.3 s per check on the CI machine)
# is what makes guessing slow, and would make each sign-in in these tests just as slow. The
# algorithm and every code path stay the same; only the parameters stored in the hash differ.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def use_cheap_hashing(monkeypatch) -> None:
    """Swap in CHEAP_HASHER for passwords, PINs and the sign-in timing dummy (one test)."""
    import core.passwords
    from core.services.accounts import signin

    monkeypatch.setattr(core.passwords, "_hasher", CHEAP_HASHER)
    monkeypatch.setattr(core.passwords, "_pin_hasher", CHEAP_HASHER)
    monkeypatch.setattr(signin, "_DUMMY_HASH", CHEAP_HASHER.hash("dummy"))


@cache
def password_hash() -> str:
    """Hashed once per test session."""
    return CHEAP_HASHER.hash(PASSWORD)


@dataclass
class Org:
    admin: User
    manager: User
    viewer: User
    other_manager: User
    other_viewer: User
    centre: Unit
    district: Unit
    commune: Unit
    province: Unit
    counter: Counter
    other_counter: Counter
    officer: Officer
    other_officer: Officer

    def refresh(self) -> Org:
        """Re-read every object (after requests committed in other sessions)."""
        for name, value in vars(self).items():
            setattr(self, name, db.session.get(type(value), value.id))
        return self


def _unit(code: str) -> Unit:
    return db.session.scalar(select(Unit).where(Unit.code == code))


def _user(username: str, role: str, unit: Unit | None) -> User:
    user = User(username=username, password_hash=password_hash(), role=role,
                unit_id=unit.id if unit else None, full_name=username.title())
    db.session.add(user)
    return user


def build_org() -> Org:
    from demo.seed import seed_demo

    seed_demo()
    centre, district = _unit("T-DEMO-TTHCC"), _unit("T-DEMO-H1")
    commune, province = _unit("T-DEMO-X1"), _unit("T-DEMO")
    users = [
        _user("root", "admin", None),
        _user("lan", "manager", centre),
        _user("xem", "viewer", centre),
        _user("binh", "manager", district),
        _user("xem-h1", "viewer", district),
    ]
    db.session.commit()
    counter = db.session.scalar(
        select(Counter).where(Counter.unit_id == centre.id).order_by(Counter.code))
    other_counter = db.session.scalar(select(Counter).where(Counter.unit_id == commune.id))
    officer = db.session.scalar(select(Officer).where(Officer.unit_id == centre.id))
    other_officer = db.session.scalar(select(Officer).where(Officer.unit_id == commune.id))
    return Org(*users, centre=centre, district=district, commune=commune, province=province,
               counter=counter, other_counter=other_counter, officer=officer,
               other_officer=other_officer)


def sign_in(client, user: User) -> None:
    """Open a session for ``user`` the way admin.auth.start_session does (no password check)."""
    with client.session_transaction() as session:
        session.clear()
        session["uid"] = user.id
        session["ep"] = user.session_epoch
        session["iat"] = session["seen"] = int(time.time())


def login(client, username: str, password: str = PASSWORD, **kwargs):
    """Sign in through the real form."""
    return client.post("/admin/login", data={"username": username, "password": password},
                       **kwargs)
