"""axe-core run by Playwright in a page: the WCAG 2.x A/AA rules, serious and critical findings."""

from __future__ import annotations

from pathlib import Path

AXE_JS = Path(__file__).resolve().parent / "axe" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
_source: str | None = None


def axe_violations(page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """Problems axe finds in the page as it is now, one line each ("rule: target ...")."""
    global _source
    if _source is None:
        _source = AXE_JS.read_text(encoding="utf-8")
    # Evaluated through the DevTools protocol, so the page's CSP (no inline script) still holds.
    page.evaluate(_source)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    found = []
    for violation in result["violations"]:
        if violation.get("impact") in impacts:
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]][:5]
            found.append(f"{violation['id']} ({violation['impact']}): {', '.join(targets)}")
    return found
