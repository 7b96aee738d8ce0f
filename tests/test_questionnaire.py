"""The SIPAS questionnaire is versioned data: the default definition and its validation.

Specification: docs/METHOD.md, "The scale"; the questionnaire follows QĐ 1001/QĐ-BNV (2023).
"""

from __future__ import annotations

import copy
import json
import sys
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.questionnaire_definition import (  # noqa: E402
    DEFAULT_PATH,
    QuestionnaireDefinition,
    QuestionnaireError,
    Text,
    default_definition,
    default_questionnaire,
    load_definition,
)

# Letters only Vietnamese uses (đ and the vowels with a breve, circumflex, horn or tone mark).
VIETNAMESE_LETTERS = set("àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ")
SERVICE_COUNTS = {"TC": 4, "TT": 4, "CC": 5, "KQ": 3, "PA": 3}


@pytest.fixture
def raw() -> dict:
    return default_definition()


@pytest.fixture
def q() -> QuestionnaireDefinition:
    return default_questionnaire()


def texts(node, where="$"):
    """Every {"vi", "en"} text object in a raw definition, with where it is."""
    if isinstance(node, dict):
        if set(node) == {"vi", "en"}:
            yield where, node
            return
        for key, value in node.items():
            label = node.get("code", where)
            yield from texts(value, f"{label}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from texts(value, f"{where}[{index}]")


def has_vietnamese(text: str) -> bool:
    return any(ch in VIETNAMESE_LETTERS for ch in text.lower())


# --- the default definition ------------------------------------------------------------------


def test_the_default_file_loads_and_validates(q):
    assert q.code == "sipas-service"
    assert q.version == 1
    assert q.method_version == "sipas-2023.1"
    assert q.policy_enabled is False
    assert "1001/QĐ-BNV" in q.source


def test_default_definition_is_the_raw_json_of_the_default_file(raw):
    assert raw == json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    raw["version"] = 99
    assert default_definition()["version"] == 1, "each call returns a fresh copy"


def test_loading_from_a_dict_equals_loading_from_the_file(raw, q):
    assert load_definition(raw) == q
    assert load_definition(str(DEFAULT_PATH)) == q


def test_service_part_has_19_items_in_five_elements(q):
    assert [element.code for element in q.elements] == list(SERVICE_COUNTS)
    assert {element.code: len(element.items) for element in q.elements} == SERVICE_COUNTS
    assert all(element.module == "service" for element in q.elements)
    assert len(q.items(include_policy=False)) == 19


def test_service_items_are_form_numbers_15_to_33_in_order(q):
    numbers = [item.form_no for element in q.elements for item in element.items]
    assert numbers == list(range(15, 34))
    assert [item.code for item in q.elements[0].items] == ["TC1", "TC2", "TC3", "TC4"]


def test_policy_module_is_items_1_to_14_and_off_by_default(q):
    assert q.policy_enabled is False
    assert q.policy_elements
    assert all(element.module == "policy" for element in q.policy_elements)
    policy_items = [item for element in q.policy_elements for item in element.items]
    assert [item.form_no for item in policy_items] == list(range(1, 15))
    assert [item.code for item in policy_items] == [f"PL{n}" for n in range(1, 15)]


def test_items_with_policy_are_in_form_order(q):
    assert [item.form_no for item in q.items(include_policy=True)] == list(range(1, 34))
    assert q.items() == q.items(include_policy=False)


def test_element_of_item_maps_every_item(q):
    mapping = q.element_of_item()
    assert len(mapping) == 33
    assert mapping["TC1"] == "TC"
    assert mapping["CC5"] == "CC"
    assert mapping["PA3"] == "PA"
    assert mapping["PL1"] in {element.code for element in q.policy_elements}


def test_element_titles_are_the_ministrys_names(q):
    vi = {element.code: element.text.vi for element in q.elements}
    assert "Tiếp cận" in vi["TC"]
    assert "Thủ tục hành chính" in vi["TT"]
    assert "Công chức" in vi["CC"]
    assert "Kết quả" in vi["KQ"]
    assert "phản ánh, kiến nghị" in vi["PA"]


def test_scale_is_5_to_1_plus_no_opinion(q):
    assert [level.level for level in q.scale] == [5, 4, 3, 2, 1, 0]
    assert [level.text.vi for level in q.scale] == [
        "Rất hài lòng",
        "Hài lòng",
        "Bình thường",
        "Không hài lòng",
        "Rất không hài lòng",
        "Không có ý kiến",
    ]
    assert q.scale_level(0).code == "no_opinion"
    assert q.scale_level(0).text.en == "No opinion"
    assert [level.level for level in q.scale if level.satisfied] == [5, 4]
    assert not q.scale_level(0).valid
    assert all(q.scale_level(n).valid for n in range(1, 6))


def test_perception_questions(q):
    by_code = {question.code: question for question in q.perception}
    assert list(by_code) == [
        "trips",
        "harassment",
        "informal_payment",
        "channel",
        "priorities",
        "comment",
    ]
    assert by_code["trips"].option_codes() == ("1", "2", "3", "4plus")
    assert by_code["harassment"].option_codes() == ("none", "some", "much")
    assert by_code["informal_payment"].option_codes() == ("no", "yes")
    assert by_code["channel"].option_codes() == ("in_person", "post", "online")
    priorities = by_code["priorities"]
    assert priorities.kind == "multi"
    assert priorities.max == 3
    assert priorities.option_codes() == (
        "officer_attitude",
        "processing_time",
        "simpler_procedures",
        "online_services",
        "premises_equipment",
        "transparency",
        "feedback_handling",
    )
    comment = by_code["comment"]
    assert (comment.kind, comment.max_length, comment.optional) == ("text", 1000, True)
    assert all(
        question.kind == "single" and not question.optional
        for code, question in by_code.items()
        if code not in {"priorities", "comment"}
    )


def test_followup_reasons_point_at_sipas_elements(q):
    mapping = {reason.code: reason.element for reason in q.followup_reasons}
    assert mapping == {
        "waiting_time": "TT",
        "officer_attitude": "CC",
        "procedures_papers": "TT",
        "premises_equipment": "TC",
        "feedback_handling": "PA",
        "other": None,
    }
    # Chip labels are short enough for a big touch target.
    assert all(
        len(reason.text.vi) <= 24 and len(reason.text.en) <= 24 for reason in q.followup_reasons
    )


def test_every_string_has_vietnamese_and_english(raw):
    found = list(texts(raw))
    # title, 6 scale levels, 9 elements, 33 items, 6 questions, 19 options, 6 chips
    assert len(found) == 1 + 6 + 9 + 33 + 6 + 19 + 6
    for where, text in found:
        assert text["vi"].strip() and text["en"].strip(), where


def test_vietnamese_texts_have_diacritics_and_are_nfc(raw):
    for where, text in texts(raw):
        assert has_vietnamese(text["vi"]), f"{where}: {text['vi']!r} has no Vietnamese letters"
        assert unicodedata.normalize("NFC", text["vi"]) == text["vi"], f"{where} is not NFC"


def test_english_texts_are_plain_english(raw):
    for where, text in texts(raw):
        assert text["en"].isascii(), f"{where}: {text['en']!r}"
        assert text["en"] != text["vi"], where


def test_text_get_falls_back_to_vietnamese():
    text = Text(vi="Hài lòng", en="Satisfied")
    assert text.get("en") == "Satisfied"
    assert text.get("en-US") == "Satisfied"
    assert text.get("vi") == "Hài lòng"
    assert text.get("fr") == "Hài lòng"
    assert text.get(None) == "Hài lòng"


# --- versions --------------------------------------------------------------------------------


def test_with_policy_makes_a_new_version(q, raw):
    new = q.with_policy(True)
    assert new["version"] == 2
    assert new["policy_enabled"] is True
    assert q.version == 1 and q.raw == raw, "the loaded questionnaire is unchanged"
    loaded = load_definition(new)
    assert loaded.policy_enabled is True
    assert loaded.version == 2
    assert loaded.elements == q.elements
    assert len(loaded.items(include_policy=True)) == 33
    assert loaded.with_policy(False)["version"] == 3
    assert loaded.with_policy(False)["policy_enabled"] is False


def test_with_policy_returns_a_copy(q):
    new = q.with_policy(True)
    new["elements"][0]["code"] = "XX"
    assert q.raw["elements"][0]["code"] == "TC"


# --- invalid definitions ---------------------------------------------------------------------


def broken(raw: dict, change) -> dict:
    bad = copy.deepcopy(raw)
    change(bad)
    return bad


def expect_error(definition, *words: str) -> None:
    with pytest.raises(QuestionnaireError) as caught:
        load_definition(definition)
    for word in words:
        assert word in str(caught.value), (word, str(caught.value))


def test_the_error_is_a_value_error():
    assert issubclass(QuestionnaireError, ValueError)


def test_duplicate_item_code_is_named(raw):
    def dup(d):
        d["elements"][1]["items"][0]["code"] = "TC2"

    expect_error(broken(raw, dup), "TC2", "duplicate")


def test_duplicate_element_code_is_named(raw):
    def dup(d):
        d["elements"][4]["code"] = "KQ"

    expect_error(broken(raw, dup), "KQ", "duplicate")


def test_duplicate_option_code_is_named(raw):
    def dup(d):
        d["perception"][4]["options"][1]["code"] = "officer_attitude"

    expect_error(broken(raw, dup), "officer_attitude", "duplicate")


def test_duplicate_form_number_is_named(raw):
    def dup(d):
        d["elements"][0]["items"][1]["form_no"] = 15

    expect_error(broken(raw, dup), "TC2", "15")


def test_missing_english_text_is_named(raw):
    def drop(d):
        del d["elements"][2]["items"][3]["text"]["en"]

    expect_error(broken(raw, drop), "CC4", "'en'")


def test_blank_vietnamese_text_is_named(raw):
    def blank(d):
        d["perception"][3]["options"][2]["text"]["vi"] = "  "

    expect_error(broken(raw, blank), "channel.online", "'vi'")


def test_missing_title_language_is_named(raw):
    def drop(d):
        del d["title"]["vi"]

    expect_error(broken(raw, drop), "sipas-service", "title")


def test_empty_element_is_named(raw):
    def empty(d):
        d["elements"][3]["items"] = []

    expect_error(broken(raw, empty), "KQ", "item")


def test_scale_without_no_opinion_is_rejected(raw):
    def drop(d):
        d["scale"] = [level for level in d["scale"] if level["level"] != 0]

    expect_error(broken(raw, drop), "scale", "0")


def test_multi_question_needs_max_of_at_least_one(raw):
    def zero(d):
        d["perception"][4]["max"] = 0

    expect_error(broken(raw, zero), "priorities", "max")


def test_followup_reason_must_name_an_existing_element(raw):
    def wrong(d):
        d["followup_reasons"][0]["element"] = "ZZ"

    expect_error(broken(raw, wrong), "waiting_time", "ZZ")


def test_element_in_the_wrong_module_is_named(raw):
    def wrong(d):
        d["elements"][0]["module"] = "policy"

    expect_error(broken(raw, wrong), "TC", "module")


def test_version_must_be_a_positive_whole_number(raw):
    for bad_version in (0, "1", True, None):
        expect_error(broken(raw, lambda d, v=bad_version: d.update(version=v)), "version")


def test_unreadable_inputs_raise_questionnaire_error(tmp_path):
    missing = tmp_path / "missing.json"
    expect_error(missing, "cannot read")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json", encoding="utf-8")
    expect_error(garbage, "not valid JSON")
    expect_error(42, "definition")
