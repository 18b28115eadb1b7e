"""The house keeps its plan: no import circle in ``src/`` and no import the layer table forbids.

The graph is built with :mod:`ast` from every ``import`` in ``src/radguard``: module level, inside
functions and under ``TYPE_CHECKING`` alike. The allowed imports are read from the layer table in
``docs/ARCHITECTURE.md``, so the page and the code cannot drift apart.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PAGE = ROOT / "docs" / "ARCHITECTURE.md"
ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*`([\w.]+)`\s*\|\s*(.+?)\s*\|\s*$")


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under ``src/radguard``."""
    out: dict[str, Path] = {}
    for path in sorted((SRC / "radguard").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules of radguard that ``path`` imports, wherever the import statement stands."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    found: set[str] = set()

    def resolve(target: str) -> str | None:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target or None

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "radguard":
                    hit = resolve(alias.name)
                    if hit:
                        found.add(hit)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "radguard":
                continue
            for alias in node.names:
                hit = resolve(f"{mod}.{alias.name}") if f"{mod}.{alias.name}" in modules else resolve(mod)
                if hit:
                    found.add(hit)
    found.discard(name)
    return found


def graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def layer_table() -> tuple[dict[str, int], dict[str, set[str] | int]]:
    """(part -> floor, part -> allowed parts, or the floor below which everything is allowed)."""
    floors: dict[str, int] = {}
    allowed: dict[str, set[str] | int] = {}
    for line in PAGE.read_text().splitlines():
        m = ROW.match(line)
        if not m:
            continue
        floor, part, rule = int(m.group(1)), m.group(2), m.group(3)
        floors[part] = floor
        below = re.fullmatch(r"every floor below (\d+)", rule)
        if below:
            allowed[part] = int(below.group(1))
        elif rule.strip() in ("—", "-"):
            allowed[part] = set()
        else:
            allowed[part] = set(re.findall(r"`([\w.]+)`", rule))
    assert floors, f"no layer table found in {PAGE}"
    return floors, allowed


def part_of(module: str, parts: dict[str, int]) -> str | None:
    best = None
    for part in parts:
        if (module == part or module.startswith(part + ".")) and (best is None or len(part) > len(best)):
            best = part
    return best


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle_in_src() -> None:
    found = cycles(graph())
    assert not found, "import circles in src/: " + "; ".join(" <-> ".join(c) for c in found)


def test_every_module_belongs_to_a_part_of_the_layer_table() -> None:
    floors, _ = layer_table()
    orphans = [m for m in graph() if m != "radguard" and part_of(m, floors) is None]
    assert not orphans, f"modules outside the layer table of docs/ARCHITECTURE.md: {orphans}"


def test_imports_follow_the_layer_table() -> None:
    floors, allowed = layer_table()
    bad: list[str] = []
    for module, targets in sorted(graph().items()):
        src_part = part_of(module, floors)
        if src_part is None:
            continue
        rule = allowed[src_part]
        for target in sorted(targets):
            if target == "radguard":  # the package root holds __version__ only
                continue
            dst_part = part_of(target, floors)
            if dst_part is None or dst_part == src_part:
                continue
            ok = floors[dst_part] < rule if isinstance(rule, int) else dst_part in rule
            if not ok:
                bad.append(f"{module} -> {target}")
    assert not bad, "imports against the layer table of docs/ARCHITECTURE.md:\n  " + "\n  ".join(bad)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import radguard.dicom.pdu\n", {"radguard.dicom.pdu"}),
        ("from radguard.dicom import pdu\n", {"radguard.dicom.pdu"}),
        ("from radguard.models import Finding\n", {"radguard.models"}),
        ("def f():\n    from radguard.store import open_store\n", {"radguard.store"}),
        ("if TYPE_CHECKING:\n    from radguard.errors import X\n", {"radguard.errors"}),
    ],
)
def test_the_graph_sees_every_kind_of_import(tmp_path: Path, source: str, expected: set[str]) -> None:
    f = tmp_path / "m.py"
    f.write_text(source)
    assert imports_of("radguard.x.m", f, module_files()) == expected


def test_the_cycle_finder_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
