"""QR posters per counter: the survey address a poster carries (drawn by core/qr.py).

The link (``core.services.survey.links.poster_token``) names the unit and counter and lasts
three years, so a printed poster keeps working; reprinting makes a fresh link.
"""

from __future__ import annotations

from dataclasses import dataclass

from werkzeug.exceptions import Forbidden

from core.models import Counter, Unit, User
from core.services.org import scope
from core.services.survey.links import poster_token, survey_url


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
