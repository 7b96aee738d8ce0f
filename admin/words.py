"""The words for the refusals of the organisation and account services (``ServiceError`` codes).

The services (``core.services.org``, ``core.services.accounts``) say why with a code and values;
these tables turn them into sentences in the administrator's language.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.services.errors import ServiceError, words

ORG = {
    "org.code": _l("A code has 1 to 40 letters, digits, dots, dashes or underscores, no spaces."),
    "org.name": _l("A name has 1 to 200 characters."),
    "org.unit_code_taken": _l("Another unit already has the code %(code)s."),
    "org.level": _l("Choose a level from the list."),
    "org.move_into_itself": _l("A unit cannot be moved under itself or one of its own units."),
    "org.hours_format": _l("Write opening hours like 07:30-11:30, 13:30-17:00 (got %(value)s)."),
    "org.hours_backwards": _l("A period must end after it starts (%(value)s)."),
    "org.hours_overlap": _l("Periods must be in order and must not overlap (%(value)s)."),
    "org.scale": _l("The scale has 3 or 5 levels."),
    "org.setting_range": _l("Each time must be between %(min)s and %(max)s seconds."),
    "org.counter_code_taken": _l("This unit already has a counter with the code %(code)s."),
    "org.counter_of_other_unit": _l("This counter belongs to another unit."),
    "org.pin": _l("A PIN has 4 to 8 digits."),
    "org.officer_code_taken": _l("This unit already has an officer with the code %(code)s."),
}

CATALOG = {
    "catalog.code": _l("A code has 1 to 60 letters, digits or . _ / - and no spaces."),
    "catalog.name": _l("A name has 1 to %(n)d characters."),
    "catalog.field_choice": _l("Choose a field from the list."),
    # The CSV import: each refusal belongs to a line of the file (line 0: the file as a whole).
    "catalog.not_utf8": _l(
        "Line %(line)d is not UTF-8 text. Save the file as CSV UTF-8 and try again."),
    "catalog.kind": _l("Unknown import kind."),
    "catalog.empty": _l("The file is empty."),
    "catalog.header_csv": _l("Line 1 is not valid CSV (check the quotes)."),
    "catalog.header_missing": _l(
        "Line 1: the header must name the columns %(columns)s (missing: %(missing)s)."),
    "catalog.header_unknown": _l("Line 1: unknown columns %(columns)s."),
    "catalog.line_csv": _l("This line is not valid CSV (check the quotes)."),
    "catalog.values": _l("This line has %(got)d values; the header has %(want)d."),
    "catalog.too_many_rows": _l("A file has at most %(n)d rows."),
    "catalog.field_missing": _l("The field %(code)s does not exist."),
    "catalog.active": _l("Active must be 1 or 0 (got %(value)s)."),
    "catalog.duplicate": _l("The code %(code)s is already on line %(line)d."),
    "catalog.no_rows": _l("The file has no rows to import."),
}

ACCOUNTS = {
    "username.length": _l("A username has 1 to 80 characters."),
    "username.taken": _l("The username %(name)s is already taken."),
    "password.too_short": _l("A password needs at least %(n)d characters."),
    "password.too_long": _l("A password has at most %(n)d characters."),
    "password.is_username": _l("The password must not be the username."),
    "password.common": _l("This is one of the most common passwords."),
    "password.repeated": _l("Repeated characters such as “aaa” are easy to guess."),
    "password.sequence": _l("Sequences such as “abc” or “1234” are easy to guess."),
    "password.keyboard": _l("Keyboard rows such as “qwerty” are easy to guess."),
    "password.guessable": _l("Common words, names, dates and passwords are easy to guess."),
    "current_password.wrong": _l("The current password is wrong."),
    "current_password.too_many_guesses": _l(
        "Too many wrong passwords. Please wait %(n)d minutes and try again."),
    "new_password.unchanged": _l("The new password must differ from the current one."),
    "account.role": _l("Choose a role from the list."),
    "account.unit_required": _l("Managers and viewers need a unit."),
    "account.own_role": _l("You cannot change your own role."),
    "account.own_disable": _l("You cannot disable your own account."),
}
# A password refused as easy to guess gets advice on a better one after the reason.
GUESSABLE = frozenset({"password.common", "password.repeated", "password.sequence",
                       "password.keyboard", "password.guessable"})
ADVICE = _l("Choose a longer one, for example a few unrelated words.")

TABLE = ORG | CATALOG | ACCOUNTS

# The inputs an account refusal may concern: the start of its code.
INPUTS = ("username", "password", "current_password", "new_password")


def say(error: ServiceError) -> str:
    """The sentence for a refusal of the organisation or account services."""
    retry_after = error.params.get("retry_after")
    if retry_after is not None:
        # The wait is shown in whole minutes, rounded up, at least one.
        error = ServiceError(error.code, **error.params, n=max(1, -(-int(retry_after) // 60)))
    text = words(error, TABLE)
    if error.code in GUESSABLE:
        text = f"{text} {ADVICE}"
    return text


def input_of(error: ServiceError) -> str | None:
    """The input (form field) an account refusal concerns, or None for the form as a whole."""
    prefix = error.code.partition(".")[0]
    return prefix if prefix in INPUTS else None
