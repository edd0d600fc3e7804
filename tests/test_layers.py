"""The layers of DESIGN.md, enforced: a package imports only packages above it.

Every `synthagent.*` import in every module is checked, function bodies included (a lazy import is still a
dependency). Each package's own `cli.py`, the `commands/` package and the root modules (`cli.py`, `demo.py`,
`command_errors.py`, …) form the command-line layer at the bottom: they register sub-commands and may import
anything. The project's cycle check (package_cycles.py, which counts a stage's `cli.py` as part of its stage)
must find none as well, so a command module that needs a package below its own stage lives in `commands/`. Where a lower
package must reach a higher one, the higher one registers a plug-in into a registry the lower one owns
(world kinds: `sim/kinds.py`; check ops: `reward/checks.py`).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "synthagent"

# top to bottom; packages on one line are peers and may not import each other
LAYERS: list[tuple[str, ...]] = [
    ("spec",),
    ("llm",),
    ("worlds",),
    ("sim",),
    ("reward",),
    ("rollout",),
    ("synth",),
    ("integrations", "report"),
    ("exports",),
    ("train",),
    ("<cli>",),
]
CLI_PACKAGES = ("commands",)  # packages that belong to the command-line layer as a whole
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def layer_of(path: Path, root: Path) -> str:
    rel = path.relative_to(root)
    if len(rel.parts) == 1 or rel.name == "cli.py" or rel.parts[0] in CLI_PACKAGES:
        return "<cli>"
    return rel.parts[0]


def imported_layers(path: Path, root: Path) -> list[tuple[str, int]]:
    found: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] != "synthagent" or len(parts) < 2:
                continue
            package = parts[1] not in CLI_PACKAGES and (parts[1] in RANK or (root / parts[1]).is_dir())
            found.add((parts[1] if package else "<cli>", node.lineno))  # a root module is the cli layer
    return sorted(found, key=lambda pair: pair[1])


def upward_imports(root: Path = PACKAGE) -> list[str]:
    problems = []
    for path in sorted(root.rglob("*.py")):
        here = layer_of(path, root)
        for target, line in imported_layers(path, root):
            if target == here:
                continue
            if target not in RANK or here not in RANK:
                problems.append(f"{path.relative_to(root)}:{line}: package {target!r} or {here!r} has no layer")
            elif RANK[target] >= RANK[here]:
                problems.append(f"{path.relative_to(root)}:{line}: {here} imports {target}, which is not above it")
    return problems


def test_every_package_has_a_layer():
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(RANK) | set(CLI_PACKAGES), f"add {sorted(packages - set(RANK))} to LAYERS (and to DESIGN.md)"


def test_no_package_imports_one_below_it():
    assert upward_imports() == []


def test_the_check_catches_an_upward_import(tmp_path):
    # a package tree with one upward import (a lazy one, inside a function) must be reported
    spec = tmp_path / "spec"
    spec.mkdir()
    (spec / "__init__.py").write_text("")
    (spec / "models.py").write_text("def f():\n    from synthagent.rollout.runner import run_all\n")
    assert upward_imports(tmp_path) == ["spec/models.py:2: spec imports rollout, which is not above it"]
