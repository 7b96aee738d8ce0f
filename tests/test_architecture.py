"""The parts and what each may import (docs/DEVELOPING.md, "Parts and what each may import").

Read from the source with ``ast``, without importing it: every ``import`` counts, at module level
or inside a function, except those in ``core.create_app``, the one place that puts the parts
together.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("core", "kiosk", "survey", "admin", "public", "api", "demo")
# The product; demo/ is development tooling beside it (make run, the demo data).
PRODUCT = ("core", "kiosk", "survey", "admin", "public", "api")
BLUEPRINTS = ("kiosk", "survey", "admin", "public", "api")
AGGREGATOR = ("admin", "survey", "public", "api")
FACTORY = ("core", "create_app")

# What each part may import besides itself and core (docs/DEVELOPING.md has the same table).
MAY_ALSO_IMPORT: dict[str, tuple[str, ...]] = {
    "core": (), "kiosk": (), "survey": (), "admin": (), "api": (),
    "public": ("admin.dashboard",),  # the dashboard's filter errors and channel names
    "demo": PRODUCT,  # tooling: it drives every part
}

# Cycles known and being removed; each line names its issue, delete it when the cycle is gone.
ALLOWED_CYCLES: set[frozenset[str]] = set()


def _modules() -> dict[str, Path]:
    found = {}
    for part in PARTS:
        for path in (ROOT / part).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _in_factory(module: str, node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.FunctionDef) and (module, node.name) == FACTORY:
            return True
    return False


def _imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules this one imports (``from x import y`` counts as x.y when y is one)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if _in_factory(module, node, parents):
            continue
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in known else base)
    return {t for t in targets if t in known and t != module}


def import_graph() -> dict[str, set[str]]:
    known = _modules()
    return {module: _imports(module, path, known) for module, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def _top(module: str) -> str:
    return module.split(".")[0]


def _offending(importers, imported) -> list[str]:
    return sorted(f"{m} -> {t}" for m, ts in import_graph().items() for t in ts
                  if importers(m) and imported(t))


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]


def test_the_graph_sees_imports_inside_functions_but_not_the_factory(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("def later():\n    from core import protocol\n", encoding="utf-8")
    assert _imports("core.planted", planted, _modules()) == {"core.protocol"}
    graph = import_graph()
    assert "core.database" in graph["core.errors"]  # imported inside its functions only
    assert not {t for t in graph["core"] if _top(t) in BLUEPRINTS}


def test_no_module_imports_itself_round_a_cycle():
    assert [sorted(c) for c in cycles(import_graph()) if c not in ALLOWED_CYCLES] == []


def test_the_aggregator_never_imports_the_kiosk():
    assert _offending(lambda m: _top(m) in AGGREGATOR or m.startswith("core."),
                      lambda t: _top(t) == "kiosk") == []


def test_the_kiosk_never_imports_the_aggregators_blueprints():
    assert _offending(lambda m: _top(m) == "kiosk", lambda t: _top(t) in AGGREGATOR) == []


def test_the_kiosk_never_imports_the_aggregators_sync_or_reporting_services():
    # The kiosk reads refusals by their protocol code and holds its own words for them.
    aggregator_only = ("core.services.ingest", "core.services.kiosks", "core.services.rollups",
                       "core.services.sync", "core.services.reporting")
    assert _offending(lambda m: _top(m) == "kiosk",
                      lambda t: t.startswith(aggregator_only)) == []


def test_the_kiosks_services_never_commit():
    # They flush (write_unit); the request commits once after the view. The sync worker
    # (kiosk/sync.py) and the commands (kiosk/cli.py) are not requests and commit themselves.
    services = ("capture", "configuration", "outbox", "staff", "thanks", "views", "identity")
    found = [name for name in services
             if ".commit(" in (ROOT / "kiosk" / f"{name}.py").read_text(encoding="utf-8")]
    assert found == []
    assert not (ROOT / "kiosk" / "services.py").exists()  # split into the modules above


def test_core_imports_no_blueprint_package():
    # Services and models serve every blueprint; only create_app may name one.
    assert _offending(lambda m: _top(m) == "core", lambda t: _top(t) in BLUEPRINTS) == []


def test_the_product_never_imports_the_demo_tooling():
    # create_app adds the demo's commands (the factory is exempt); nothing else names demo/.
    assert _offending(lambda m: _top(m) in PRODUCT, lambda t: _top(t) == "demo") == []


def test_the_demo_tooling_shows_no_translated_strings():
    # Its output is for a developer at a terminal, so no catalog domain needs to cover demo/.
    calls = sorted(
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in (ROOT / "demo").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        and node.func.id in ("_", "_l", "gettext", "lazy_gettext", "ngettext")
    )
    assert calls == []


def test_each_part_imports_only_core_and_what_the_table_allows():
    def allowed(module: str, target: str) -> bool:
        part = _top(module)
        return _top(target) in (part, "core") or any(
            target == a or target.startswith(a + ".") for a in MAY_ALSO_IMPORT[part])

    assert set(MAY_ALSO_IMPORT) == set(PARTS)
    assert sorted(f"{m} -> {t}" for m, ts in import_graph().items() for t in ts
                  if not allowed(m, t)) == []


def test_the_core_package_itself_offers_only_the_factory():
    # core/__init__.py holds create_app alone (the version is core.version), so importing a
    # name from it never runs into the blueprints the factory puts together.
    known = _modules()
    names = sorted(
        f"{module}: {alias.name}"
        for module, path in [*known.items(), ("wsgi", ROOT / "wsgi.py")]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module == "core" and not node.level
        for alias in node.names
        if f"core.{alias.name}" not in known and alias.name != "create_app"
    )
    assert names == []


# Pure modules: the standard library and each other only (no Flask, no database), so the kiosk
# and the aggregator can share them. The protocol takes its scales from the index engine.
PURE = ("core.protocol", "core.sipas", "core.codes")


def _top_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    return imported


def test_the_protocol_is_pure():
    for module in PURE:
        path = ROOT.joinpath(*module.split(".")).with_suffix(".py")
        foreign = {name for name in _top_imports(path) if name not in PURE
                   and name.split(".")[0] not in set(sys.stdlib_module_names) | {"__future__"}}
        assert foreign == set(), module


def test_the_kiosk_never_imports_the_survey_services():
    # The phone survey is the aggregator's; the kiosk signs its links with core.tokens alone.
    assert _offending(lambda m: _top(m) == "kiosk",
                      lambda t: t.startswith("core.services.survey")) == []


def test_the_qr_module_imports_no_service():
    # The kiosk draws its QR codes with core.qr too.
    assert _offending(lambda m: m == "core.qr", lambda t: t.startswith("core.services")) == []


def test_the_survey_area_is_one_package_and_never_commits():
    services = ROOT / "core" / "services"
    loose = {"survey.py", "survey_tokens.py", "questionnaires.py", "posters.py"}
    assert {path.name for path in services.glob("*.py")} & loose == set()
    assert not (ROOT / "core" / "questionnaire.py").exists()
    committing = sorted(path.name for path in (services / "survey").glob("*.py")
                        if ".commit(" in path.read_text(encoding="utf-8"))
    assert committing == []


def test_every_protocol_code_has_words():
    from admin.kiosks import BUNDLE_ERRORS as BUNDLE_WORDS
    from admin.kiosks import REASON_WORDS as FLEET_REASON_WORDS
    from api.sync import MESSAGES
    from core import protocol
    from kiosk.views import REJECT_REASONS

    # A refused rating is shown on the fleet page and on the kiosk's status page.
    assert set(FLEET_REASON_WORDS) == set(protocol.ITEM_REASONS)
    assert set(REJECT_REASONS) == set(protocol.ITEM_REASONS)
    assert set(MESSAGES) == set(protocol.REQUEST_ERRORS) | set(protocol.ITEM_REASONS)
    assert set(protocol.BUNDLE_ERRORS) <= set(BUNDLE_WORDS)
    assert set(protocol.RETIRED_REASONS) <= set(protocol.ITEM_REASONS)


def test_every_part_has_its_strings_extracted():
    from core.i18n import DOMAIN_SOURCES, DOMAINS

    assert set(DOMAIN_SOURCES) == set(DOMAINS)
    assert sorted(folder for folders in DOMAIN_SOURCES.values() for folder in folders) == sorted(
        PRODUCT)


def test_the_sync_services_never_commit_and_live_in_their_package():
    # The caller commits (the request after the view, a CLI command at its end); see
    # core/services/unit_of_work.py. The old loose modules stay gone.
    services = ROOT / "core" / "services"
    committing = sorted(
        path.name for path in (services / "sync").glob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr == "commit")
    assert committing == []
    assert not {"kiosks.py", "ingest.py"} & {p.name for p in services.glob("*.py")}


ORG_AND_ACCOUNTS = ("org", "accounts")


def test_org_and_accounts_services_live_in_their_packages_and_never_commit():
    # The old loose modules are gone; the request (or CLI command) commits once, never these.
    services = ROOT / "core" / "services"
    loose = {"org.py", "catalog.py", "scope.py", "users.py", "api_tokens.py", "audit.py"}
    assert sorted(p.name for p in services.glob("*.py") if p.name in loose) == []
    assert not (ROOT / "admin" / "services.py").exists()
    committing = sorted(
        str(path.relative_to(ROOT))
        for area in ORG_AND_ACCOUNTS for path in (services / area).glob("*.py")
        if ".commit(" in path.read_text(encoding="utf-8")
        or "services.messages" in path.read_text(encoding="utf-8")
    )
    assert committing == []


def test_no_service_commits_and_no_service_imports_a_blueprint():
    # The one transaction convention (core/services/unit_of_work.py) across every area,
    # reporting included: services flush, the request or the command commits.
    services = ROOT / "core" / "services"
    committing = sorted(
        str(path.relative_to(ROOT)) for path in services.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and node.func.attr == "commit")
    assert committing == []
    assert _offending(lambda m: m.startswith("core.services"),
                      lambda t: _top(t) in BLUEPRINTS) == []


def test_every_service_area_is_a_package():
    # Areas are folders; only the shared helpers stay loose at the top of core/services/.
    loose = {p.name for p in (ROOT / "core" / "services").glob("*.py")}
    assert loose == {"__init__.py", "errors.py", "pagination.py", "rollups.py", "unit_of_work.py"}


def test_the_kiosks_buttons_are_the_engines_scales():
    # The kiosk keeps the faces and their words; which levels each scale has is core.sipas's.
    from core.sipas import SCALE_LEVELS
    from kiosk.capture import BUTTONS

    assert {scale: sorted(b[0] for b in buttons) for scale, buttons in BUTTONS.items()} == {
        scale: sorted(levels) for scale, levels in SCALE_LEVELS.items()}
