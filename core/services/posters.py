"""QR posters per counter: the survey address a poster carries, as an SVG or PNG QR code.

The token (``core.services.survey_tokens.poster_token``) names the unit and counter and lasts
three years, so a printed poster keeps working; reprinting makes a fresh token.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import qrcode
import qrcode.image.pure
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M
from werkzeug.exceptions import Forbidden

from core.models import Counter, Unit, User
from core.services.org import scope
from core.services.survey_tokens import poster_token, survey_url


@dataclass(frozen=True)
class Poster:
    unit: Unit
    counter: Counter
    url: str


def poster_for(actor: User, counter_id: int) -> Poster:
    """The poster of a counter the actor manages (404 outside their scope, 403 for viewers)."""
    counter = scope.get_counter(actor, counter_id)
    if not scope.may_manage(actor, counter.unit):
        raise Forbidden()
    return Poster(unit=counter.unit, counter=counter, url=survey_url(poster_token(counter)))


def _qr(url: str, box_size: int) -> qrcode.QRCode:
    # Level M survives a scuffed or partly covered poster; border 4 is the quiet zone scanners need.
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=4)
    code.add_data(url)
    code.make(fit=True)
    return code


def qr_svg(url: str) -> bytes:
    """A scalable QR code (white background, black modules) that prints sharp at any size."""
    image = _qr(url, 10).make_image(image_factory=qrcode.image.svg.SvgPathFillImage)
    return image.to_string(encoding="utf-8")


def qr_png(url: str, box_size: int = 12) -> bytes:
    """A PNG QR code, large enough to print at A4 (about 12 px per module)."""
    image = _qr(url, box_size).make_image(image_factory=qrcode.image.pure.PyPNGImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()
