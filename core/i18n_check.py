"""Check the translation catalogs: every marked string of every area translated, none fuzzy.

``python -m core.i18n_check`` prints the problems and exits non-zero (used by a test and the
pre-commit hook); ``--fill-en`` copies each English msgid into an empty English msgstr, since our
source strings are written in English; ``--apply FILE.json`` writes Vietnamese translations
given as {domain: {msgid: msgstr}}.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

from core.config import BASE_DIR, LOCALES
from core.i18n import DOMAIN_SOURCES, DOMAINS

METHOD_MAP = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
KEYWORDS = DEFAULT_KEYWORDS | {"_l": None, "lazy_gettext": None}


def po_path(domain: str, locale: str) -> Path:
    return BASE_DIR / "translations" / locale / "LC_MESSAGES" / f"{domain}.po"


def extracted(domain: str) -> set[str]:
    """Message ids marked in the area's source (singular ids; plurals by their singular)."""
    found: set[str] = set()
    for folder in DOMAIN_SOURCES[domain]:
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(BASE_DIR / folder), METHOD_MAP, keywords=KEYWORDS
        ):
            found.add(message[0] if isinstance(message, tuple | list) else message)
    return found


def problems() -> list[str]:
    out: list[str] = []
    # The app merges every domain into one catalog per language, so one English msgid must have
    # one translation everywhere, or one area's wording silently replaces another's.
    seen: dict[tuple[str, str], tuple[str, object]] = {}
    for domain in DOMAINS:
        wanted = extracted(domain)
        for locale in LOCALES:
            path = po_path(domain, locale)
            if not path.exists():
                if wanted:
                    out.append(f"{path.relative_to(BASE_DIR)}: missing (run make translations)")
                continue
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=locale)
            present = set()
            for message in catalog:
                if not message.id:
                    continue
                key = message.id[0] if isinstance(message.id, tuple | list) else message.id
                present.add(key)
                strings = message.string if isinstance(message.string, tuple | list) else [
                    message.string
                ]
                earlier = seen.setdefault((locale, key), (domain, message.string))
                if earlier[1] != message.string:
                    out.append(
                        f"{path.name} [{locale}] {key!r} is translated differently in "
                        f"{earlier[0]}.po; the merged catalog would keep only one"
                    )
                if message.fuzzy:
                    out.append(f"{path.name} [{locale}] fuzzy: {key!r}")
                elif not all(strings):
                    out.append(f"{path.name} [{locale}] untranslated: {key!r}")
            for key in sorted(wanted - present):
                out.append(f"{path.name} [{locale}] not in catalog (run make update): {key!r}")
    return out


def fill_english() -> int:
    """English source strings are their own translation; fill empty English msgstrs."""
    filled = 0
    for domain in DOMAINS:
        path = po_path(domain, "en")
        if not path.exists():
            continue
        with path.open("rb") as handle:
            catalog = read_po(handle, locale="en")
        for message in catalog:
            if not message.id:
                continue
            if isinstance(message.id, tuple | list):
                if not all(message.string):
                    message.string = tuple(message.id)
                    filled += 1
            elif not message.string:
                message.string = message.id
                filled += 1
            message.flags.discard("fuzzy")
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100, omit_header=False)
    return filled


def apply_translations(path: Path, locale: str = "vi") -> int:
    """Write translations from a JSON file {domain: {msgid: msgstr}} into the catalogs.

    A plural entry takes a list of strings. Used to add a batch of Vietnamese translations
    without hand-editing .po files.
    """
    import json

    wanted = json.loads(path.read_text(encoding="utf-8"))
    applied = 0
    for domain, entries in wanted.items():
        po = po_path(domain, locale)
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=locale)
        for message in catalog:
            if not message.id:
                continue
            key = message.id[0] if isinstance(message.id, tuple | list) else message.id
            if key in entries:
                value = entries[key]
                message.string = tuple(value) if isinstance(value, list) else value
                message.flags.discard("fuzzy")
                applied += 1
        with po.open("wb") as handle:
            write_po(handle, catalog, width=100, omit_header=False)
    return applied


def main(argv: list[str]) -> int:
    if "--apply" in argv:
        source = Path(argv[argv.index("--apply") + 1])
        print(f"applied {apply_translations(source)} Vietnamese entries")
    if "--fill-en" in argv:
        print(f"filled {fill_english()} English entries")
    found = problems()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
