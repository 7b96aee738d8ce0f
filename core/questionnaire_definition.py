"""The SIPAS questionnaire as versioned data.

A questionnaire definition is a JSON document (the default is ``data/questionnaire_sipas_v1.json``);
``load_definition`` validates it and turns it into frozen dataclasses. Every response records the
questionnaire ``version`` it answered and every published figure names the ``method_version``
(docs/METHOD.md, "Versions"), so a definition is never edited in
place: a change makes a new version (see ``QuestionnaireDefinition.with_policy``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.sipas import LEVELS, NO_OPINION

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "questionnaire_sipas_v1.json"
LOCALES = ("vi", "en")
SERVICE_QUESTIONNAIRE = "sipas-service"  # the code of the SIPAS service questionnaire
# The answers a rated item takes: the five levels, and 0 for no opinion / not applicable.
ANSWER_LEVELS = frozenset({NO_OPINION, *LEVELS})
MODULES = ("service", "policy")
KINDS = ("single", "multi", "text")


class QuestionnaireError(ValueError):
    """A questionnaire definition is malformed; the message names the offending code."""


@dataclass(frozen=True)
class Text:
    """A string in both languages."""

    vi: str
    en: str

    def get(self, locale: str | None = "vi") -> str:
        """The text in ``locale`` ("en", "en-US", "vi_VN" ...), Vietnamese for anything else."""
        lang = (locale or "").replace("_", "-").split("-")[0].lower()
        return self.en if lang == "en" else self.vi


@dataclass(frozen=True)
class ScaleLevel:
    """One answer on the rating scale; level 0 is "no opinion" and is not a valid answer."""

    level: int
    code: str
    text: Text

    @property
    def valid(self) -> bool:
        """Counts in the denominator of an item index (levels 1..5)."""
        return self.level >= 1

    @property
    def satisfied(self) -> bool:
        """Counts as satisfied (levels 4 and 5)."""
        return self.level >= 4


@dataclass(frozen=True)
class Item:
    """A rated statement; ``form_no`` is its number on the Ministry's form."""

    code: str
    form_no: int
    text: Text


@dataclass(frozen=True)
class Element:
    """A SIPAS element (yếu tố) and its items; ``module`` is "service" or "policy"."""

    code: str
    module: str
    text: Text
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Option:
    """A choice of a perception question."""

    code: str
    text: Text


@dataclass(frozen=True)
class PerceptionQuestion:
    """A question asked beside the rated items and not indexed the same way.

    ``kind`` is "single" (one option), "multi" (up to ``max`` options) or "text" (free text of
    at most ``max_length`` characters).
    """

    code: str
    kind: str
    text: Text
    options: tuple[Option, ...] = ()
    max: int | None = None
    max_length: int | None = None
    optional: bool = False

    def option_codes(self) -> tuple[str, ...]:
        """The option codes in display order."""
        return tuple(option.code for option in self.options)


@dataclass(frozen=True)
class FollowupReason:
    """A kiosk follow-up chip after a low rating; ``element`` is the SIPAS element or None."""

    code: str
    element: str | None
    text: Text


@dataclass(frozen=True)
class QuestionnaireDefinition:
    """A validated questionnaire definition; ``raw`` is the JSON it was loaded from."""

    code: str
    version: int
    method_version: str
    title: Text
    source: str
    policy_enabled: bool
    scale: tuple[ScaleLevel, ...]
    elements: tuple[Element, ...]
    policy_elements: tuple[Element, ...]
    perception: tuple[PerceptionQuestion, ...]
    followup_reasons: tuple[FollowupReason, ...]
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def all_elements(self, include_policy: bool = False) -> tuple[Element, ...]:
        """Service elements, then (if asked) the policy elements."""
        return self.elements + (self.policy_elements if include_policy else ())

    def items(self, include_policy: bool = False) -> list[Item]:
        """Rated items in form order (policy items 1–14 come before service items 15–33)."""
        found = [item for element in self.all_elements(include_policy) for item in element.items]
        return sorted(found, key=lambda item: item.form_no)

    def element_of_item(self) -> dict[str, str]:
        """Item code -> element code, for every item of both modules."""
        return {
            item.code: element.code
            for element in self.all_elements(include_policy=True)
            for item in element.items
        }

    def scale_level(self, level: int) -> ScaleLevel:
        """The scale entry for ``level``; KeyError if there is none."""
        for entry in self.scale:
            if entry.level == level:
                return entry
        raise KeyError(level)

    def with_policy(self, enabled: bool) -> dict[str, Any]:
        """A new raw definition: this one with ``policy_enabled`` set and ``version`` + 1.

        The result is a fresh copy, ready to validate with ``load_definition`` and store as the
        next version; this questionnaire is unchanged.
        """
        new = _json_copy(self.raw, self.code)
        new["version"] = self.version + 1
        new["policy_enabled"] = bool(enabled)
        return new


def default_definition() -> dict[str, Any]:
    """The raw default definition (a fresh dict), e.g. for storing in the database."""
    return _read(DEFAULT_PATH)


def default_questionnaire() -> QuestionnaireDefinition:
    """The default definition, loaded and validated."""
    return load_definition(DEFAULT_PATH)


def load_definition(path_or_dict: str | Path | Mapping[str, Any]) -> QuestionnaireDefinition:
    """Validate a definition (a JSON file path or an already parsed mapping) and load it.

    Raises ``QuestionnaireError`` naming the offending code on the first problem found.
    """
    if isinstance(path_or_dict, Mapping):
        raw = _json_copy(path_or_dict, "definition")
    elif isinstance(path_or_dict, str | Path):
        raw = _read(Path(path_or_dict))
    else:
        raise QuestionnaireError(
            f"definition: expected a path or a mapping, got {type(path_or_dict).__name__}"
        )
    return _build(raw)


# --- validation ------------------------------------------------------------------------------


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise QuestionnaireError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise QuestionnaireError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise QuestionnaireError(f"{path}: the definition must be a JSON object")
    return data


def _json_copy(value: Mapping[str, Any], where: str) -> dict[str, Any]:
    try:
        return json.loads(json.dumps(value, ensure_ascii=False))
    except (TypeError, ValueError) as exc:
        raise QuestionnaireError(f"{where}: not JSON-serialisable ({exc})") from None


def _fail(where: str, problem: str) -> QuestionnaireError:
    return QuestionnaireError(f"{where}: {problem}")


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, "must be an object")
    return value


def _list(value: Any, where: str, *, allow_empty: bool = False) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(where, "must be a list")
    if not value and not allow_empty:
        raise _fail(where, "must not be empty")
    return value


def _str(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"'{key}' must be a non-empty string")
    return value


def _int(value: Any, where: str, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(where, f"'{key}' must be a whole number >= {minimum}, got {value!r}")
    return value


def _code(data: Any, where: str) -> str:
    """The entry's code, which then names it in every later message."""
    return _str(_mapping(data, where), "code", where)


def _text(data: Mapping[str, Any], owner: str, key: str = "text") -> Text:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise _fail(owner, f"'{key}' must be an object with 'vi' and 'en'")
    parts = {}
    for locale in LOCALES:
        part = value.get(locale)
        if not isinstance(part, str) or not part.strip():
            raise _fail(owner, f"'{key}' needs a non-empty '{locale}' text")
        parts[locale] = part
    return Text(**parts)


def _unique(codes: list[str], what: str) -> None:
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            raise _fail(code, f"duplicate {what} code")
        seen.add(code)


def _scale(value: Any) -> tuple[ScaleLevel, ...]:
    scale = []
    for index, entry in enumerate(_list(value, "scale")):
        code = _code(entry, f"scale[{index}]")
        scale.append(
            ScaleLevel(_int(entry.get("level"), code, "level", 0), code, _text(entry, code))
        )
    _unique([entry.code for entry in scale], "scale")
    levels = [entry.level for entry in scale]
    if len(set(levels)) != len(levels):
        raise _fail("scale", "duplicate level")
    missing = sorted(ANSWER_LEVELS - set(levels))
    extra = sorted(set(levels) - ANSWER_LEVELS)
    if missing or extra:
        raise _fail("scale", f"levels must be exactly 0..5 (missing {missing}, unexpected {extra})")
    return tuple(scale)


def _elements(value: Any, key: str, module: str) -> tuple[Element, ...]:
    elements = []
    for index, entry in enumerate(_list(value, key, allow_empty=module == "policy")):
        code = _code(entry, f"{key}[{index}]")
        if entry.get("module") != module:
            raise _fail(code, f"'module' must be {module!r} in '{key}'")
        raw_items = entry.get("items")
        if not isinstance(raw_items, list) or not raw_items:
            raise _fail(code, "an element needs at least one item")
        items = []
        for item_index, item in enumerate(raw_items):
            item_code = _code(item, f"{code}.items[{item_index}]")
            form_no = _int(item.get("form_no"), item_code, "form_no", 1)
            items.append(Item(item_code, form_no, _text(item, item_code)))
        elements.append(Element(code, module, _text(entry, code), tuple(items)))
    return tuple(elements)


def _perception(value: Any) -> tuple[PerceptionQuestion, ...]:
    questions = []
    for index, entry in enumerate(_list(value, "perception", allow_empty=True)):
        code = _code(entry, f"perception[{index}]")
        kind = entry.get("kind")
        if kind not in KINDS:
            raise _fail(code, f"'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
        optional = entry.get("optional", False)
        if not isinstance(optional, bool):
            raise _fail(code, "'optional' must be true or false")
        options: list[Option] = []
        max_choices = max_length = None
        if kind == "text":
            max_length = _int(entry.get("max_length"), code, "max_length", 1)
        else:
            raw_options = entry.get("options")
            if not isinstance(raw_options, list) or not raw_options:
                raise _fail(code, "a choice question needs at least one option")
            for option_index, option in enumerate(raw_options):
                option_code = _code(option, f"{code}.options[{option_index}]")
                options.append(Option(option_code, _text(option, f"{code}.{option_code}")))
            _unique([option.code for option in options], f"option (in {code})")
            if kind == "multi":
                max_choices = _int(entry.get("max"), code, "max", 1)
                if max_choices > len(options):
                    raise _fail(code, f"'max' ({max_choices}) exceeds the number of options")
        questions.append(
            PerceptionQuestion(
                code, kind, _text(entry, code), tuple(options), max_choices, max_length, optional
            )
        )
    _unique([question.code for question in questions], "perception question")
    return tuple(questions)


def _followups(value: Any, element_codes: set[str]) -> tuple[FollowupReason, ...]:
    reasons = []
    for index, entry in enumerate(_list(value, "followup_reasons", allow_empty=True)):
        code = _code(entry, f"followup_reasons[{index}]")
        element = entry.get("element")
        if element is not None and element not in element_codes:
            raise _fail(code, f"'element' {element!r} is not an element of this questionnaire")
        reasons.append(FollowupReason(code, element, _text(entry, code)))
    _unique([reason.code for reason in reasons], "follow-up reason")
    return tuple(reasons)


def _build(raw: dict[str, Any]) -> QuestionnaireDefinition:
    code = _str(raw, "code", "definition")
    version = _int(raw.get("version"), code, "version", 1)
    method_version = _str(raw, "method_version", code)
    policy_enabled = raw.get("policy_enabled", False)
    if not isinstance(policy_enabled, bool):
        raise _fail(code, "'policy_enabled' must be true or false")
    scale = _scale(raw.get("scale"))
    elements = _elements(raw.get("elements"), "elements", "service")
    policy_elements = _elements(raw.get("policy_elements", []), "policy_elements", "policy")
    if policy_enabled and not policy_elements:
        raise _fail(code, "'policy_enabled' is true but there are no policy elements")
    all_elements = elements + policy_elements
    items = [item for element in all_elements for item in element.items]
    # Elements and items share one namespace: answers are keyed by item code, figures by element.
    _unique(
        [element.code for element in all_elements] + [item.code for item in items], "element/item"
    )
    form_numbers: dict[int, str] = {}
    for item in items:
        if item.form_no in form_numbers:
            raise _fail(
                item.code, f"form_no {item.form_no} is already used by {form_numbers[item.form_no]}"
            )
        form_numbers[item.form_no] = item.code
    return QuestionnaireDefinition(
        code=code,
        version=version,
        method_version=method_version,
        title=_text(raw, code, "title"),
        source=raw.get("source") if isinstance(raw.get("source"), str) else "",
        policy_enabled=policy_enabled,
        scale=scale,
        elements=elements,
        policy_elements=policy_elements,
        perception=_perception(raw.get("perception", [])),
        followup_reasons=_followups(
            raw.get("followup_reasons", []), {element.code for element in all_elements}
        ),
        raw=raw,
    )
