"""QR codes, drawn locally (no outside service ever sees the link), with one set of settings.

Every QR code of the product comes from here: the counter posters (SVG and PNG), the kiosk's
thank-you screen (inline SVG) and the kiosk registration page (an SVG data URI). Error correction
level M survives a scuffed poster or a smudged screen; the quiet zone is the 4 modules the QR
standard (ISO/IEC 18004) asks for, so scanners find the code on any background.

Imports no services: the kiosk uses it too.
"""

from __future__ import annotations

import base64
import io
import re

import qrcode
import qrcode.image.pure
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M

ERROR_CORRECTION = ERROR_CORRECT_M
QUIET_ZONE = 4  # modules of blank margin, as the standard requires
SVG_BOX = 10  # an SVG scales; this only sets the units of its drawing
PNG_BOX = 12  # pixels per module: sharp when printed at A4


def _code(text: str, box_size: int) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION, box_size=box_size, border=QUIET_ZONE)
    code.add_data(text)
    code.make(fit=True)
    return code


def svg(text: str) -> bytes:
    """A standalone SVG document (white background, black modules) that prints sharp."""
    image = _code(text, SVG_BOX).make_image(image_factory=qrcode.image.svg.SvgPathFillImage)
    return image.to_string(encoding="utf-8")


def png(text: str, box_size: int = PNG_BOX) -> bytes:
    """A PNG image, ``box_size`` pixels per module."""
    image = _code(text, box_size).make_image(image_factory=qrcode.image.pure.PyPNGImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


def svg_data_uri(text: str) -> str:
    """The SVG as a data: URI for an <img> (the CSP allows data: images; nothing is fetched)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg(text)).decode("ascii")


def inline_svg(text: str) -> str:
    """SVG markup to place in a page: sized by the stylesheet, hidden from screen readers (the
    page says in words what the code is for)."""
    markup = _code(text, SVG_BOX).make_image(
        image_factory=qrcode.image.svg.SvgPathFillImage).to_string(encoding="unicode")
    markup = re.sub(r"^<\?xml[^>]*\?>\s*", "", markup)
    # Size comes from the stylesheet; drop the fixed millimetre size qrcode writes.
    return re.sub(r'^<svg width="[^"]*" height="[^"]*"',
                  '<svg focusable="false" aria-hidden="true"', markup, count=1)
