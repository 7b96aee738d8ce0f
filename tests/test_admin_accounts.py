"""Accounts: sign-in with lockout, idle timeout, logout, passwords, resets, disabling, cookies."""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import func, select

from core.config import load
from core.extensions import db
from core.models import AuditEntry, User
from core.passwords import verify_password
from core.ratelimit import RedisBackend
from tests.conftest import redis_url
from tests.support.admin import PASSWORD, build_org, login, sign_in, use_cheap_hashing


@pytest.fixture
def org(app, monkeypatch):
    use_cheap_hashing(monkeypatch)
    return build_org()


def actions(action: str) -> list[AuditEntry]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def fresh(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


# --- signing in and the lockout ----------------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def limits(request, app):
    """The rate-limit store: memory, and Redis when TEST_REDIS_URL names one (as in CI)."""
    if request.param == "redis":
        backend = RedisBackend(redis_url())
        backend._redis.flushdb()
        app.extensions["sipas_ratelimit"] = backend
    return request.param


class CountedVerifications:
    """Counts the argon2 verifications of sign-in (thread-safe)."""

    def __init__(self, monkeypatch) -> None:
        from core.services.accounts import signin

        self.calls = 0
        self._lock = threading.Lock()
        real = signin.verify_password

        def counted(stored, password):
            with self._lock:
                self.calls += 1
            return real(stored, password)

        monkeypatch.setattr(signin, "verify_password", counted)


def test_a_successful_sign_in_is_audited_and_forgets_the_failures(client, org):
    for _ in range(4):
        assert login(client, "lan", "wrong-password-1").status_code == 401
    assert login(client, "lan").status_code == 302
    user = fresh(org.manager)
    assert user.last_login_at is not None
    [entry] = actions("login")
    assert entry.user_id == user.id and entry.unit_id == org.centre.id
    # The count of this source started again: four more wrong tries are answered 401.
    client.post("/admin/logout")
    assert [login(client, "lan", "wrong-password-1").status_code for _ in range(4)] == [401] * 4


def test_five_wrong_passwords_lock_the_source_even_against_the_right_one(client, org):
    for _ in range(4):
        assert login(client, "lan", "wrong-password-1").status_code == 401
    locked = login(client, "lan", "wrong-password-1")
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["Retry-After"]) <= 15 * 60
    assert "Đăng nhập sai quá nhiều lần" in locked.get_data(as_text=True)
    # While locked, even the right password is refused.
    assert login(client, "lan").status_code == 429
    assert client.get("/admin/").status_code == 302
    assert len(actions("login.locked")) == 1
    reasons = [e.details["reason"] for e in actions("login.failed")]
    assert reasons == ["bad_credentials"] * 5 + ["locked"]


def test_a_guesser_elsewhere_does_not_lock_out_the_owner(client, org):
    """The lock is on the attempt source (address + account), not on the account."""
    remote = {"REMOTE_ADDR": "203.0.113.66"}
    statuses = [login(client, "lan", "wrong-password-1", environ_base=remote).status_code
                for _ in range(6)]
    assert statuses == [401] * 4 + [429, 429]
    office = {"REMOTE_ADDR": "10.1.2.3"}
    assert login(client, "lan", environ_base=office).status_code == 302


def test_known_and_unknown_names_get_the_same_answers_and_the_same_work(
    client, org, monkeypatch, limits
):
    verifications = CountedVerifications(monkeypatch)
    answers = {}
    for name in ("lan", "nobody"):
        responses = [login(client, name, "wrong-password-1") for _ in range(6)]
        answers[name] = [(r.status_code, "Retry-After" in r.headers) for r in responses]
        for response in responses[4:]:
            assert 1 <= int(response.headers["Retry-After"]) <= 15 * 60
    assert answers["lan"] == answers["nobody"] == [(401, False)] * 4 + [(429, True)] * 2
    # One argon2 verification per try, locked or not, known or not.
    assert verifications.calls == 12


def test_the_right_password_is_answered_alike_when_locked(client, org, monkeypatch):
    verifications = CountedVerifications(monkeypatch)
    answers = []
    for name in ("lan", "nobody"):
        for _ in range(5):
            login(client, name, "wrong-password-1")
        answer = login(client, name, PASSWORD)
        answers.append((answer.status_code, "Đăng nhập sai quá nhiều lần" in answer.text))
    assert answers == [(429, True), (429, True)]
    assert verifications.calls == 12


def test_parallel_guesses_never_get_more_passwords_checked_than_the_limit(app, org, monkeypatch,
                                                                         limits):
    """Twelve tries at once, the right password among them: each is counted before its password
    is checked, so at most five get an answer that depends on their password."""
    from core.services.accounts import signin

    tries = 12
    verified = 0
    finished = 0
    state = threading.Condition()
    real = signin.verify_password

    def held_verification(stored, password):
        # Hold every verification until each try has either finished or reached this point,
        # so that all tries that can pass the limit are checked at the same moment.
        nonlocal verified
        with state:
            verified += 1
            state.notify_all()
            state.wait_for(lambda: verified + finished >= tries, timeout=10)
        return real(stored, password)

    monkeypatch.setattr(signin, "verify_password", held_verification)
    barrier = threading.Barrier(tries)
    statuses: list[int] = []

    def attempt(n: int) -> None:
        nonlocal finished
        client = app.test_client()
        barrier.wait(timeout=10)
        response = login(client, "lan", PASSWORD if n == tries - 1 else f"wrong-password-{n}")
        with state:
            statuses.append(response.status_code)
            finished += 1
            state.notify_all()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(tries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(statuses) == tries
    # Every try costs one verification, but only five answers depend on the password.
    assert verified == tries
    decided = statuses.count(302) + statuses.count(401)
    assert decided <= 5 and statuses.count(429) == tries - decided


def test_without_the_limit_store_sign_in_is_refused_not_left_unlimited(app, client, org, caplog):
    app.extensions["sipas_ratelimit"] = RedisBackend("redis://127.0.0.1:1/0")  # nobody listens
    for password in ("wrong-password-1", PASSWORD):
        response = login(client, "lan", password)
        assert response.status_code == 503 and response.headers["Retry-After"] == "30"
        assert "Hệ thống đang bận" in response.get_data(as_text=True)
    assert "rate-limit store unavailable for login" in caplog.text
    assert client.get("/admin/").status_code == 302


def test_the_timing_dummy_hash_is_made_at_the_first_sign_in_not_at_import():
    # A fresh interpreter: importing the module must not pay for an argon2 hash.
    code = ("import core.services.accounts.signin as s\n"
            "assert s._DUMMY_HASH is None, 'hashed at import'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr


def test_failures_from_one_address_are_limited_across_accounts(app_factory, org):
    app = app_factory(LOGIN_IP_ATTEMPTS=3)
    client = app.test_client()
    with app.app_context():
        statuses = [login(client, name, "wrong-password-1").status_code
                    for name in ("lan", "xem", "binh", "root")]
        assert statuses == [401, 401, 401, 429]
        # Another address is not affected.
        other = login(client, "root", environ_base={"REMOTE_ADDR": "10.0.0.9"})
        assert other.status_code == 302
        [limited] = [e for e in actions("login.failed") if e.details["reason"] == "ip_limited"]
        assert limited.ip == "127.0.0.1"


def test_a_disabled_account_cannot_sign_in(client, org):
    user = fresh(org.viewer)
    user.active = False
    db.session.commit()
    response = login(client, "xem")
    assert response.status_code == 401
    assert actions("login.failed")[-1].details["reason"] == "disabled"


def test_an_invalid_login_form_is_422_and_localised(client, org):
    response = client.post("/admin/login", data={"username": "", "password": ""})
    assert response.status_code == 422
    assert "Trường này là bắt buộc." in response.get_data(as_text=True)


def test_sign_in_follows_only_same_site_next_links(client, org):
    ok = login(client, "root", query_string={"next": "/admin/units/"})
    assert ok.headers["Location"] == "/admin/units/"
    client.post("/admin/logout")
    evil = login(client, "root", query_string={"next": "https://evil.example/"})
    assert evil.headers["Location"] == "/"


# --- sessions ----------------------------------------------------------------------------------


def test_an_idle_session_ends(app, client, org):
    sign_in(client, org.admin)
    assert client.get("/admin/").status_code == 200
    with client.session_transaction() as session:
        session["seen"] = int(time.time()) - app.config["SESSION_IDLE_MINUTES"] * 60 - 5
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    with client.session_transaction() as session:
        assert "uid" not in session


def test_an_active_session_is_kept_alive_by_use(app, client, org):
    sign_in(client, org.admin)
    almost = int(time.time()) - app.config["SESSION_IDLE_MINUTES"] * 60 + 30
    with client.session_transaction() as session:
        session["seen"] = almost
    assert client.get("/admin/").status_code == 200
    with client.session_transaction() as session:
        assert session["seen"] > almost


def test_logout_ends_the_session_and_is_audited(client, org):
    login(client, "root")
    assert client.post("/admin/logout").status_code == 302
    assert client.get("/admin/").status_code == 302
    assert len(actions("logout")) == 1


def cookie_of(app, client) -> str:
    return client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value


def test_sign_out_ends_every_session_of_the_account_even_a_copied_cookie(app, org):
    here, thief = app.test_client(), app.test_client()
    login(here, "lan")
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie_of(app, here))
    assert thief.get("/admin/").status_code == 200
    assert here.post("/admin/logout").status_code == 302
    assert thief.get("/admin/").status_code == 302
    # Signing in again opens a new session; the copied one stays dead.
    login(here, "lan")
    assert here.get("/admin/").status_code == 200
    assert thief.get("/admin/").status_code == 302


def test_using_a_session_does_not_re_issue_its_cookie_each_time(app, client, org):
    login(client, "lan")
    client.get("/admin/")
    again = client.get("/admin/")
    assert again.status_code == 200 and "Set-Cookie" not in again.headers


def test_a_session_ends_after_its_absolute_lifetime_however_active(app, client, org):
    assert load({}, {"SECRET_KEY": "x" * 40})["SESSION_MAX_HOURS"] == 12
    login(client, "lan")
    lifetime = app.config["SESSION_MAX_HOURS"] * 3600
    with client.session_transaction() as session:
        session["iat"] = session["seen"] - lifetime + 60
    assert client.get("/admin/").status_code == 200
    with client.session_transaction() as session:
        session["iat"] = session["seen"] - lifetime - 1
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_the_session_cookie_holds_nothing_derived_from_the_password(app, client, org):
    login(client, "lan")
    client.get("/admin/")
    data = app.session_interface.get_signing_serializer(app).loads(cookie_of(app, client))
    assert {"uid", "ep", "iat", "seen"} <= set(data) <= {"uid", "ep", "iat", "seen", "_permanent",
                                                          "csrf_token", "_flashes"}
    stored = fresh(org.manager).password_hash
    assert not [v for v in data.values() if isinstance(v, str) and len(v) >= 6 and v in stored]


def reset_by_admin(admin, user: User):
    return admin.post(f"/admin/users/{user.id}/password", data={"password": "temporary-pass-1"})


def disable_by_admin(admin, user: User):
    return admin.post(f"/admin/users/{user.id}/disable")


def promote_by_admin(admin, user: User):
    return admin.post(f"/admin/users/{user.id}", data={
        "role": "manager", "unit_id": user.unit_id, "full_name": user.full_name, "email": ""})


def demote_by_admin(admin, user: User):
    return admin.post(f"/admin/users/{user.id}", data={
        "role": "viewer", "unit_id": user.unit_id, "full_name": user.full_name, "email": ""})


@pytest.mark.parametrize("action", [reset_by_admin, disable_by_admin, promote_by_admin])
def test_a_reset_disable_or_role_change_ends_every_session_of_the_account(app, org, action):
    admin, first, second = app.test_client(), app.test_client(), app.test_client()
    sign_in(admin, org.admin)
    login(first, "xem")
    login(second, "xem", environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert first.get("/admin/").status_code == second.get("/admin/").status_code == 200
    assert action(admin, fresh(org.viewer)).status_code == 302
    assert first.get("/admin/").status_code == second.get("/admin/").status_code == 302


INDICES = "/api/v1/reports/indices?period=month&value=2026-11"


@pytest.mark.parametrize(("action", "after"), [
    (reset_by_admin, 401), (disable_by_admin, 401), (demote_by_admin, 401), (None, 200)])
def test_api_tokens_end_with_a_reset_disable_or_role_change_not_a_sign_out(app, org, action, after):
    from core.services.accounts import api_tokens

    token = api_tokens.create(fresh(org.manager), "nightly export")
    db.session.commit()  # the service flushes; the test commits
    bearer = {"Authorization": f"Bearer {token}"}
    api, owner, admin = app.test_client(), app.test_client(), app.test_client()
    assert api.get(INDICES, headers=bearer).status_code == 200
    login(owner, "lan")
    if action is None:
        owner.post("/admin/logout")
    else:
        sign_in(admin, org.admin)
        assert action(admin, fresh(org.manager)).status_code == 302
    assert api.get(INDICES, headers=bearer).status_code == after


def test_session_cookie_flags(app_factory, org):
    plain = app_factory().test_client()
    cookie = login(plain, "root").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure_config = load({"SIPAS_SECURE_COOKIES": "true", "SIPAS_INSTANCE_PATH": "/tmp"},
                         {"SECRET_KEY": "x" * 40})
    assert secure_config["SESSION_COOKIE_SECURE"] is True
    secure = app_factory(SESSION_COOKIE_SECURE=True).test_client()
    cookie = login(secure, "root", base_url="https://localhost").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


# --- changing one's password -------------------------------------------------------------------


def change(client, current: str, new: str, confirm: str | None = None):
    return client.post("/admin/account/password",
                       data={"current": current, "new": new, "confirm": confirm or new})


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("wrong-password-9", "a-new-password-1", None, "Mật khẩu hiện tại không đúng."),
        (PASSWORD, "short", None, "Từ 10 đến 200 ký tự."),
        (PASSWORD, "a-new-password-1", "another-password", "Hai mật khẩu không khớp nhau."),
        (PASSWORD, PASSWORD, None, "Mật khẩu mới phải khác mật khẩu hiện tại."),
    ],
)
def test_a_refused_password_change_says_why(client, org, current, new, confirm, message):
    sign_in(client, org.manager)
    response = change(client, current, new, confirm)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert verify_password(fresh(org.manager).password_hash, PASSWORD)


def test_the_password_may_not_be_the_username(client, org):
    user = fresh(org.manager)
    user.username = "lan-nguyen-thi"
    db.session.commit()
    sign_in(client, user)
    response = change(client, PASSWORD, "LAN-NGUYEN-THI")
    assert response.status_code == 422
    assert "Mật khẩu không được trùng tên đăng nhập." in response.get_data(as_text=True)


def test_changing_the_password_ends_other_sessions_but_not_this_one(app, org):
    here, elsewhere = app.test_client(), app.test_client()
    login(here, "lan")
    login(elsewhere, "lan")
    response = change(here, PASSWORD, "a-brand-new-password")
    assert response.status_code == 302
    assert here.get("/admin/").status_code == 200
    assert elsewhere.get("/admin/").status_code == 302
    assert verify_password(fresh(org.manager).password_hash, "a-brand-new-password")
    assert len(actions("user.password_change")) == 1


def test_wrong_current_passwords_are_limited_like_sign_in(client, org):
    login(client, "lan")
    for n in range(5):
        assert change(client, f"wrong-password-{n}", "a-brand-new-password").status_code == 422
    limited = change(client, PASSWORD, "a-brand-new-password")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 15 * 60
    assert "Nhập sai mật khẩu quá nhiều lần" in limited.get_data(as_text=True)
    assert verify_password(fresh(org.manager).password_hash, PASSWORD)
    reasons = [e.details for e in actions("user.password_change_failed")]
    assert reasons == [None] * 5 + [{"reason": "limited"}]


@pytest.mark.parametrize(("weak", "vi", "en"), [
    ("aaaaaaaaaa", "Lặp lại một ký tự", "Repeated characters"),
    ("1234567890", "mật khẩu phổ biến nhất", "most common passwords"),
    ("password12", "mật khẩu phổ biến nhất", "most common passwords"),
    ("abcdefghijk", "Dãy liên tiếp", "Sequences such as"),
    ("matkhau2024", "Từ thông dụng", "Common words"),
])
def test_easily_guessed_passwords_are_refused_with_the_reason(client, org, weak, vi, en):
    login(client, "lan")
    refused = change(client, PASSWORD, weak)
    assert refused.status_code == 422
    assert vi in refused.get_data(as_text=True)
    english = client.post("/admin/account/password?lang=en",
                          data={"current": PASSWORD, "new": weak, "confirm": weak})
    assert english.status_code == 422 and en in english.get_data(as_text=True)
    assert verify_password(fresh(org.manager).password_hash, PASSWORD)


def test_an_administrator_cannot_give_an_easily_guessed_temporary_password(client, org):
    sign_in(client, org.admin)
    response = client.post(f"/admin/users/{org.viewer.id}/password",
                           data={"password": "1234567890"})
    assert response.status_code == 422
    assert verify_password(fresh(org.viewer).password_hash, PASSWORD)


# --- an administrator resets, disables, enables ------------------------------------------------


def test_a_reset_password_must_be_changed_at_the_next_sign_in(app, org):
    admin, user = app.test_client(), app.test_client()
    sign_in(admin, org.admin)
    response = admin.post(f"/admin/users/{org.viewer.id}/password",
                          data={"password": "temporary-pass-1"})
    assert response.status_code == 302
    assert fresh(org.viewer).must_change_password
    [entry] = actions("user.password_reset")
    assert entry.user_id == org.admin.id and entry.target_id == str(org.viewer.id)
    signed = login(user, "xem", "temporary-pass-1")
    assert signed.headers["Location"].endswith("/admin/account/password")
    # Every page leads to the password change until it is done.
    assert user.get("/admin/units/").headers["Location"].endswith("/admin/account/password")
    assert change(user, "temporary-pass-1", "my-own-password-1").status_code == 302
    assert user.get("/admin/units/").status_code == 200
    assert not fresh(org.viewer).must_change_password


def test_a_reset_with_a_weak_password_is_refused(client, org):
    sign_in(client, org.admin)
    response = client.post(f"/admin/users/{org.viewer.id}/password", data={"password": "short"})
    assert response.status_code == 422
    assert verify_password(fresh(org.viewer).password_hash, PASSWORD)


def test_disabling_a_user_ends_their_session_at_once(app, org):
    admin, user = app.test_client(), app.test_client()
    sign_in(admin, org.admin)
    login(user, "xem")
    assert user.get("/admin/").status_code == 200
    assert admin.post(f"/admin/users/{org.viewer.id}/disable").status_code == 302
    assert user.get("/admin/").status_code == 302
    assert login(user, "xem").status_code == 401
    assert admin.post(f"/admin/users/{org.viewer.id}/enable").status_code == 302
    assert login(user, "xem").status_code == 302
    assert [len(actions(a)) for a in ("user.disable", "user.enable")] == [1, 1]


def test_nobody_disables_themselves(client, org):
    sign_in(client, org.admin)
    response = client.post(f"/admin/users/{org.admin.id}/disable")
    assert response.status_code == 422
    assert "Bạn không thể tự khóa tài khoản của mình." in response.get_data(as_text=True)
    assert fresh(org.admin).active


def test_an_admin_creates_an_account_that_must_change_its_password(client, org):
    sign_in(client, org.admin)
    response = client.post("/admin/users/new", data={
        "username": "Mai", "full_name": "Đỗ Thị Mai", "role": "manager",
        "unit_id": org.commune.id, "password": "temporary-pass-1"})
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "mai"))
    assert user.role == "manager" and user.unit_id == org.commune.id
    assert user.must_change_password
    [entry] = actions("user.create")
    assert entry.user_id == org.admin.id and entry.details == {"username": "mai",
                                                               "role": "manager"}


def test_a_taken_username_is_refused(client, org):
    sign_in(client, org.admin)
    response = client.post("/admin/users/new", data={
        "username": "lan", "role": "viewer", "unit_id": org.centre.id,
        "password": "temporary-pass-1"})
    assert response.status_code == 422
    assert "Tên đăng nhập lan đã được dùng." in response.get_data(as_text=True)


def test_role_changes_are_audited_with_before_and_after(client, org):
    sign_in(client, org.admin)
    response = client.post(f"/admin/users/{org.viewer.id}", data={
        "role": "manager", "unit_id": org.commune.id, "full_name": "Xem", "email": ""})
    assert response.status_code == 302
    [entry] = actions("user.role")
    assert entry.details["changes"]["role"] == ["viewer", "manager"]
    assert entry.details["changes"]["unit_id"] == [org.centre.id, org.commune.id]


# --- what a manager may do with accounts -------------------------------------------------------


def test_a_manager_creates_viewers_in_their_subtree_only(client, org):
    sign_in(client, org.other_manager)
    ok = client.post("/admin/users/new", data={
        "username": "xa-viewer", "role": "viewer", "unit_id": org.commune.id,
        "password": "temporary-pass-1"})
    assert ok.status_code == 302
    created = db.session.scalar(select(User).where(User.username == "xa-viewer"))
    assert created.role == "viewer" and created.unit_id == org.commune.id
    # Not a manager, and not in another unit's subtree.
    manager = client.post("/admin/users/new", data={
        "username": "xa-manager", "role": "manager", "unit_id": org.commune.id,
        "password": "temporary-pass-1"})
    assert manager.status_code == 422
    elsewhere = client.post("/admin/users/new", data={
        "username": "tt-viewer", "role": "viewer", "unit_id": org.centre.id,
        "password": "temporary-pass-1"})
    assert elsewhere.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(User).where(
        User.username.in_(["xa-manager", "tt-viewer"]))) == 0


def test_a_manager_may_reset_and_disable_their_viewers_but_not_managers(client, org):
    sign_in(client, org.other_manager)
    assert client.post(f"/admin/users/{org.other_viewer.id}/password",
                       data={"password": "temporary-pass-1"}).status_code == 302
    assert client.post(f"/admin/users/{org.other_viewer.id}/disable").status_code == 302
    assert client.post(f"/admin/users/{org.other_manager.id}/disable").status_code == 403
    # Another unit's viewer: not even visible.
    assert client.post(f"/admin/users/{org.viewer.id}/disable").status_code == 404
    assert client.get(f"/admin/users/{org.viewer.id}").status_code == 404
    assert fresh(org.viewer).active


def test_a_manager_sees_only_the_accounts_of_their_subtree(client, org):
    sign_in(client, org.other_manager)
    html = client.get("/admin/users/").get_data(as_text=True)
    assert "xem-h1" in html and "binh" in html
    assert ">lan<" not in html and ">root<" not in html and ">xem<" not in html


def test_aggregator_instances_share_the_address_limit_through_redis(app_factory, org):
    import redis

    url = redis_url()
    address = f"198.51.100.{secrets.randbelow(250) + 1}"
    key = f"LIMITS:rl/login-ip/{address}"  # limits' Redis key for core.ratelimit's "login-ip"
    redis.Redis.from_url(url).delete(key)
    first, second = (app_factory(REDIS_URL=url, LOGIN_IP_ATTEMPTS=3) for _ in range(2))
    environ = {"REMOTE_ADDR": address}
    try:
        statuses = []
        for app, name in ((first, "lan"), (second, "xem"), (first, "binh"), (second, "root")):
            with app.app_context():
                response = login(app.test_client(), name, "wrong-password-1",
                                 environ_base=environ)
                statuses.append(response.status_code)
        assert statuses == [401, 401, 401, 429]
    finally:
        redis.Redis.from_url(url).delete(key)


def test_a_hash_made_with_weaker_settings_is_upgraded_at_sign_in(client, org, monkeypatch):
    from argon2 import PasswordHasher

    import core.passwords

    # The deployment raised the argon2 cost; the stored hash still has the old, lower one.
    monkeypatch.setattr(core.passwords, "_hasher",
                        PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    assert login(client, "lan").status_code == 302
    stored = fresh(org.manager).password_hash
    assert "m=16,t=2,p=1" in stored and verify_password(stored, PASSWORD)
    assert client.get("/admin/").status_code == 200  # the session follows the new hash
