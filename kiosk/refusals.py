"""Words for the aggregator's refusal of a rating (core.protocol.ITEM_REASONS), shown on the
technician's status page. The aggregator's fleet page keeps its own table (admin/kiosks.py):
neither side imports the other.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# "before_kiosk_registered", "future_device_time" and "uuid_conflict" are no longer given, but
# this kiosk may still hold ratings an older server refused with them.
REASON_WORDS = {
    "not_an_object": _l("The rating is not a JSON object."),
    "invalid_uuid": _l("The rating has no valid identifier (uuid)."),
    "invalid_seq": _l("The rating has no valid sequence number."),
    "invalid_scale": _l("The rating scale must be 3 or 5."),
    "invalid_level": _l("The rating level is not one of the levels of its scale."),
    "invalid_device_time": _l("The rating time is missing or not an ISO 8601 time with a "
                              "time zone."),
    "future_device_time": _l("The rating is dated in the future."),
    "before_kiosk_registered": _l("The rating is dated before the kiosk was registered."),
    "unknown_questionnaire_version": _l("The questionnaire version is not known to the server."),
    "invalid_reasons": _l("The follow-up reasons are not known to the questionnaire."),
    "invalid_misuse": _l("The misuse mark is not a known one."),
    "invalid_officer_code": _l("The officer code is not valid text."),
    "invalid_dossier_code": _l("The dossier code is not valid text."),
    "invalid_procedure_code": _l("The procedure code is not valid text."),
    "repeated_in_batch": _l("The same rating (or sequence number) appears twice in the batch."),
    "seq_conflict": _l("Another rating of this kiosk already has this sequence number."),
    "uuid_conflict": _l("Another kiosk already sent a rating with this identifier."),
}


def reason_words(code: str | None) -> str:
    """A refusal reason in the reader's language (the code itself when unknown)."""
    found = REASON_WORDS.get(code or "")
    return str(found) if found is not None else (code or "")
