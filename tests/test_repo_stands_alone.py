"""The repository stands on its own: people clone only this repository, so no tracked file may
send them to documents outside it (the project's early notes lived in a sibling folder).

The method is docs/METHOD.md, the contracts between the parts docs/DEVELOPING.md, and the worked
examples tests/data/sipas-examples.json (copied in as test data, hence exempt)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Spelled in pieces so that this file does not match itself.
OUTSIDE = [b"CONTRACTS" + b".md", b"../" + b"shared", b"/work/" + b"shared"]
EXEMPT = ("tests/data/",)


def tracked_files() -> list[str]:
    """Every file git tracks (a copy without .git: every file outside the usual build output)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                                check=True, timeout=60).stdout
        return [name for name in listed.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "instance", "__pycache__", ".pytest_cache", ".ruff_cache"}
        return [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
                if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]


def test_the_file_list_is_the_repository():
    files = tracked_files()
    assert "README.md" in files and "docs/DEVELOPING.md" in files and "core/sipas.py" in files


def test_no_tracked_file_points_outside_the_repository():
    found = []
    for name in tracked_files():
        if name.startswith(EXEMPT) or not (ROOT / name).is_file():
            continue
        data = (ROOT / name).read_bytes()
        for number, line in enumerate(data.splitlines(), 1):
            hits = [w.decode() for w in OUTSIDE if w in line]
            if hits:
                found.append(f"{name}:{number}: {', '.join(hits)}")
    assert found == [], "Point at the in-repo place instead (docs/METHOD.md, docs/DEVELOPING.md, " \
        "a README section):\n" + "\n".join(found)
