"""One QR code for the whole product (core/qr.py): the poster, the kiosk's thank-you screen and
the kiosk registration page draw the same modules, with the standard's quiet zone."""

from __future__ import annotations

import base64
import re

import qrcode

from core import qr

URL = "https://hailong.example.gov.vn/s/eyJ0IjoicCJ9.abc"


def _modules(svg: str) -> str:
    return re.search(r'<path d="([^"]+)"', svg).group(1)


def test_every_qr_of_the_product_draws_the_same_modules():
    from kiosk.thanks import qr_svg as kiosk_qr

    poster = qr.svg(URL).decode()
    registration = base64.b64decode(qr.svg_data_uri(URL).split(",", 1)[1]).decode()
    assert _modules(kiosk_qr(URL)) == _modules(poster) == _modules(registration)


def test_the_code_has_level_m_and_a_quiet_zone_of_four_modules():
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(URL)
    code.make(fit=True)
    side = code.modules_count + 2 * 4
    assert f'viewBox="0 0 {side} {side}"' in qr.svg(URL).decode()
    # The first dark module sits 4 modules in from each edge.
    assert _modules(qr.inline_svg(URL)).startswith("M4,4")


def test_the_inline_svg_is_sized_by_the_page_and_hidden_from_screen_readers():
    markup = qr.inline_svg(URL)
    assert markup.startswith('<svg focusable="false" aria-hidden="true"')
    assert "mm" not in markup.split(">", 1)[0] and "<?xml" not in markup
