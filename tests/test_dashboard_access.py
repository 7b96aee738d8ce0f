"""Who sees what: unit scope, officer figures, comments, the public page and API tokens."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.models import ApiToken, AuditEntry
from core.services.accounts import api_tokens
from tests.dashboard_support import counter_of, login, officer, respond, tap, unit, user

DAY = date(2026, 11, 12)
NOV = "period=month&value=2026-11"


@pytest.fixture
def org(demo):
    centre = counter_of("T-DEMO-TTHCC")
    lan, minh = officer("CB001"), officer("CB002")
    for i in range(25):  # 20 satisfied of 25: shown (>= MIN_OFFICER_N)
        tap(centre, DAY, 5 if i < 20 else 2, officer_id=lan.id)
    for _ in range(5):  # too few: withheld
        tap(centre, DAY, 4, officer_id=minh.id)
    for _ in range(10):
        respond(centre, DAY, {"TC1": 5, "CC1": 4}, comment=None)
    respond(centre, DAY, {"TC1": 2}, comment="Cán bộ Minh hẹn gọi 0987 654 321 mà không gọi")
    respond(counter_of("T-DEMO-X1"), DAY, {"TC1": 5}, comment="Xã làm nhanh, cảm ơn")
    db.session.commit()
    user("root", "admin", None)
    user("centre.manager", "manager", "T-DEMO-TTHCC")
    user("centre.viewer", "viewer", "T-DEMO-TTHCC")
    user("commune.manager", "manager", "T-DEMO-X1")
    return demo


def audits(action: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))


@pytest.mark.parametrize("who", ["root", "centre.manager"])
def test_officer_figures_for_admins_and_managers_only_above_min_officer_n(org, client, who):
    login(client, who)
    centre = unit("T-DEMO-TTHCC").id
    before = audits("report.officers")
    page = client.get(f"/admin/dashboard/breakdown/officer?unit={centre}&{NOV}")
    assert page.status_code == 200
    html = page.get_data(True)
    assert "Nguyễn Thị Lan" in html and "80,00%" in html
    minh_row = html.split("Trần Văn Minh", 1)[1].split("</tr>", 1)[0]
    assert "không đủ mẫu" in minh_row and "100,00%" not in minh_row
    client.get(f"/admin/dashboard/breakdown/officer?unit={centre}&{NOV}")
    assert audits("report.officers") == before + 2  # every view is audited


def test_viewers_never_see_officer_figures(org, client):
    login(client, "centre.viewer")
    centre = unit("T-DEMO-TTHCC").id
    assert client.get(f"/admin/dashboard/breakdown/officer?unit={centre}&{NOV}").status_code == 403
    page = client.get(f"/admin/dashboard?unit={centre}&{NOV}").get_data(True)
    assert "breakdown/officer" not in page
    assert client.get(f"/admin/dashboard/breakdown/counter?unit={centre}&{NOV}").status_code == 200
    assert audits("report.officers") == 0


def test_managers_see_only_their_subtree(org, client):
    login(client, "commune.manager")
    own = client.get(f"/admin/dashboard?{NOV}")
    assert own.status_code == 200 and "Xã Tân Phú" in own.get_data(True)
    assert "Trung tâm Phục vụ" not in own.get_data(True)  # not even in the unit picker
    for path in ("/admin/dashboard", "/admin/dashboard/items", "/admin/dashboard/comments",
                 "/admin/dashboard/breakdown/counter", "/admin/dashboard/export/ratings.csv",
                 "/admin/dashboard/export/report.xlsx"):
        for code in ("T-DEMO-TTHCC", "T-DEMO"):
            assert client.get(f"{path}?unit={unit(code).id}&{NOV}").status_code == 404, path


def test_comments_masked_for_managers_and_hidden_from_viewers(org, client):
    centre = unit("T-DEMO-TTHCC").id
    login(client, "centre.manager")
    html = client.get(f"/admin/dashboard/comments?unit={centre}&{NOV}").get_data(True)
    assert "hẹn gọi •••••••••• mà không gọi" in html and "0987" not in html
    # Digits are dropped from a search: a number matches nothing more than an empty search,
    # so nobody can probe for the phone or ID number behind the mask.
    everything = client.get(f"/admin/dashboard/comments?unit={centre}&{NOV}").get_data(True)
    probe = client.get(f"/admin/dashboard/comments?unit={centre}&{NOV}&q=0987+654")
    assert probe.get_data(True).count('class="card comment') == everything.count(
        'class="card comment')
    found = client.get(f"/admin/dashboard/comments?unit={centre}&{NOV}&q=không+gọi")
    assert "hẹn gọi" in found.get_data(True)
    # A NUL byte never reaches the database: any query argument with one is a 400 with the reason.
    nul = client.get(f"/admin/dashboard/comments?unit={centre}&{NOV}&q=%00g%E1%BB%8Di")
    assert nul.status_code == 400 and "byte NUL" in nul.get_data(True)
    missing = client.get(f"/admin/dashboard/comments?unit={centre}&{NOV}&q=xyzzy")
    assert "hẹn gọi" not in missing.get_data(True)
    client.post("/admin/logout")
    login(client, "centre.viewer")
    html = client.get(f"/admin/dashboard/comments?unit={centre}&{NOV}").get_data(True)
    assert "hẹn gọi" not in html and "0987" not in html
    assert "Nội dung góp ý được ẩn với vai trò của bạn." in html


def test_moderation_is_for_managers_of_the_unit_and_audited(org, client):
    from core.models import SurveyResponse

    target = db.session.scalar(select(SurveyResponse.id).where(
        SurveyResponse.comment.like("%hẹn gọi%")))
    login(client, "centre.viewer")
    assert client.post(f"/admin/dashboard/comments/{target}/hide").status_code == 403
    client.post("/admin/logout")
    login(client, "commune.manager")
    assert client.post(f"/admin/dashboard/comments/{target}/hide").status_code == 404
    client.post("/admin/logout")
    login(client, "centre.manager")
    assert client.post(f"/admin/dashboard/comments/{target}/bogus").status_code == 400
    assert client.post(f"/admin/dashboard/comments/{target}/hide").status_code == 302
    assert client.post(f"/admin/dashboard/comments/{target}/flag").status_code == 302
    assert audits("comment.hide") == 1 and audits("comment.flag") == 1
    db.session.expire_all()
    row = db.session.get(SurveyResponse, target)
    assert row.comment_hidden and row.comment_flagged and row.comment  # hidden, never deleted
    client.post("/admin/logout")
    login(client, "centre.viewer")
    centre = unit("T-DEMO-TTHCC").id
    html = client.get(f"/admin/dashboard/comments?unit={centre}&{NOV}").get_data(True)
    assert f"comment-{target}" not in html


def test_public_page_needs_no_login_and_shows_no_officers_or_comments(org, client):
    page = client.get(f"/cong-khai/T-DEMO-TTHCC?{NOV}")
    assert page.status_code == 200
    html = page.get_data(True)
    assert "Công khai kết quả" in html and "Chỉ số SIPAS" in html
    assert "Nguyễn Thị Lan" not in html and "Trần Văn Minh" not in html
    assert "hẹn gọi" not in html and "CB001" not in html
    commune = client.get(f"/cong-khai/T-DEMO-X1?{NOV}").get_data(True)
    assert "không đủ mẫu" in commune  # one respondent
    assert client.get("/cong-khai/NO-SUCH-UNIT").status_code == 404
    assert client.get("/cong-khai/T-DEMO%00").status_code == 404
    assert client.get("/cong-khai/T-DEMO-X1?period=month&value=2026-99").status_code == 400


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_api_tokens_are_scoped_like_their_user(org, client):
    manager = user("x1.api", "manager", "T-DEMO-X1")
    token = api_tokens.create(manager, "reporting")
    db.session.commit()  # the service flushes; the test commits
    assert db.session.scalar(select(func.count()).select_from(ApiToken).where(
        ApiToken.token_hash.contains(token[6:20]))) == 0  # only a hash is stored
    ok = client.get(f"/api/v1/reports/indices?{NOV}", headers=bearer(token))
    assert ok.status_code == 200 and ok.get_json()["unit"]["code"] == "T-DEMO-X1"
    for code in ("T-DEMO", "T-DEMO-TTHCC", "T-DEMO-X2"):
        denied = client.get(f"/api/v1/reports/indices?unit={code}&{NOV}", headers=bearer(token))
        assert denied.status_code == 404 and denied.is_json
    assert client.get(f"/api/v1/reports/rankings?unit=T-DEMO&{NOV}",
                      headers=bearer(token)).status_code == 404
    issued = client.post("/api/v1/survey-tokens/dossier", headers=bearer(token),
                         json={"unit": "T-DEMO-X1", "dossier_code": "H12.26-0001"})
    assert issued.status_code == 201 and issued.get_json()["url"].split("/s/")[1]
    elsewhere = client.post("/api/v1/survey-tokens/dossier", headers=bearer(token),
                            json={"unit": "T-DEMO-X2", "dossier_code": "H12.26-0002"})
    assert elsewhere.status_code == 404
    tid = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == manager.id))
    api_tokens.revoke(manager, tid)
    assert client.get(f"/api/v1/reports/indices?{NOV}", headers=bearer(token)).status_code == 401


def test_viewers_read_but_do_not_issue_dossier_tokens(org, client):
    from core.models import User

    viewer = db.session.scalar(select(User).where(User.username == "centre.viewer"))
    token = api_tokens.create(viewer, "read only")
    db.session.commit()  # the service flushes; the test commits
    assert client.get(f"/api/v1/reports/timeseries?{NOV}", headers=bearer(token)).status_code == 200
    denied = client.post("/api/v1/survey-tokens/dossier", headers=bearer(token),
                         json={"unit": "T-DEMO-TTHCC", "dossier_code": "A-1"})
    assert denied.status_code == 403 and denied.is_json


BAD_QUERIES = [
    "period=month&value=2026-00", "period=quarter&value=2026-Q5", "period=custom&start=x&end=y",
    "period=custom&start=2026-01-02&end=2026-01-01", "channel=fax", "unit=%00", "unit=99999",
    "period=year&value=99999", "months=0", "months=abc", "misuse=maybe", "unit=T-DEMO%00",
    "channel=%00", "period=%00", "unit=99999999999999999999", "period=year&value=0001",
    "period=month&value=0001-01", "period=custom&start=0001-01-01&end=0001-01-02",
    "period=quarter&value=2000-Q1",
]


def test_bad_api_input_is_a_json_4xx_never_a_500(demo, client):
    root = user("root", "admin", None)
    token = api_tokens.create(root, "t")
    db.session.commit()  # the service flushes; the test commits
    for query in BAD_QUERIES:
        for path in ("indices", "rankings", "timeseries"):
            response = client.get(f"/api/v1/reports/{path}?{query}", headers=bearer(token))
            assert 200 <= response.status_code < 500 and response.is_json, (path, query)
            if response.status_code >= 400:
                assert response.get_json()["error"]["message"]


def test_api_needs_a_token(org, client):
    assert client.get("/api/v1/reports/indices").status_code == 401
    assert client.get("/api/v1/reports/indices", headers=bearer("sipas_nope")).status_code == 401
    bad = client.post("/api/v1/survey-tokens/dossier", headers=bearer("garbage"), json={})
    assert bad.status_code == 401 and bad.is_json


def test_api_paths_are_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/reports/indices", "/api/v1/reports/rankings",
                 "/api/v1/reports/timeseries", "/api/v1/survey-tokens/dossier"):
        assert path in doc["paths"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_token_page_creates_shows_once_and_revokes(org, client):
    login(client, "centre.manager")
    created = client.post("/admin/api-tokens", data={"name": "Báo cáo tuần"}).get_data(True)
    secret = created.split('id="new-token">', 1)[1].split("<", 1)[0]
    assert secret.startswith("sipas_")
    listing = client.get("/admin/api-tokens").get_data(True)
    assert "Báo cáo tuần" in listing and secret not in listing
    for bad in ("", "x" * 101, "tab\there", "nul\x00"):
        refused = client.post("/admin/api-tokens", data={"name": bad})
        assert refused.status_code == 400 and "new-token" not in refused.get_data(True)
        assert "Đặt tên cho mã truy cập, từ 1 đến 100 ký tự." in refused.get_data(True)
    tid = db.session.scalar(select(ApiToken.id))
    assert client.post(f"/admin/api-tokens/{tid}/revoke").status_code == 302
    assert audits("api_token.create") == 1 and audits("api_token.revoke") == 1
    client.post("/admin/logout")
    login(client, "commune.manager")
    assert client.post(f"/admin/api-tokens/{tid}/revoke").status_code == 404
