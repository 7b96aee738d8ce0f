"""QR posters per counter: an A4 page in Vietnamese, and the QR code as SVG and PNG."""

from __future__ import annotations

import html as html_lib
import re
import struct
import xml.etree.ElementTree as ET

import pytest

from core.qr import png as qr_png
from core.qr import svg as qr_svg
from core.services.survey.links import POSTER_PURPOSE
from core.tokens import aggregator_key, verify
from tests.conftest import SECRET
from tests.support.admin import build_org, sign_in, use_cheap_hashing


@pytest.fixture
def org(app, monkeypatch):
    use_cheap_hashing(monkeypatch)
    return build_org()


def poster_url(page: str) -> str:
    match = re.search(r'<p class="poster__url">([^<]+)</p>', page)
    assert match
    return html_lib.unescape(match.group(1))


def test_the_poster_names_the_unit_and_counter_and_invites_in_vietnamese(client, org):
    sign_in(client, org.manager)
    # Even for an administrator reading English, the poster is for citizens: Vietnamese.
    page = client.get(f"/admin/counters/{org.counter.id}/poster",
                      headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert org.centre.name in page and org.counter.name in page
    assert '<article class="poster" lang="vi"' in page
    assert "Mời Ông/Bà quét mã QR" in page
    assert "Download PNG" in page  # the page around it follows the reader's language
    assert f'src="/admin/counters/{org.counter.id}/poster.svg"' in page


def test_the_poster_link_is_a_valid_signed_survey_token_for_that_counter(app, client, org):
    sign_in(client, org.admin)
    url = poster_url(client.get(f"/admin/counters/{org.counter.id}/poster").get_data(
        as_text=True))
    assert url.startswith(app.config["PUBLIC_URL"] + "/s/")
    payload = verify(url.rsplit("/", 1)[1], aggregator_key(SECRET, POSTER_PURPOSE))
    assert (payload["t"], payload["u"], payload["c"]) == ("p", org.centre.id, org.counter.id)


def test_the_qr_code_downloads_as_svg_and_png(client, org):
    sign_in(client, org.manager)
    svg = client.get(f"/admin/counters/{org.counter.id}/poster.svg?download=1")
    assert svg.mimetype == "image/svg+xml"
    assert svg.headers["Content-Disposition"] == 'attachment; filename="qr-T-DEMO-TTHCC-Q01.svg"'
    root = ET.fromstring(svg.data)
    assert root.tag.endswith("svg") and any(el.tag.endswith("path") for el in root.iter())
    png = client.get(f"/admin/counters/{org.counter.id}/poster.png")
    assert png.mimetype == "image/png"
    assert png.data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png.data[16:24])
    assert width == height >= 400  # large enough to print sharp on A4


def test_the_qr_images_encode_what_they_are_given():
    url = "http://127.0.0.1:8000/s/abc.def"
    assert qr_svg(url) == qr_svg(url) and qr_svg(url) != qr_svg(url + "x")
    assert qr_png(url) != qr_png(url + "x")


def test_the_stylesheet_prints_one_a4_page_without_the_navigation(client, org):
    response = client.get("/admin/admin-static/admin.css")
    css = response.get_data(as_text=True)
    response.close()
    assert "size: A4" in css
    assert re.search(r"@media print \{[^}]*\.site-header[^}]*display: none", css)
