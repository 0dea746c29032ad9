"""The core's shape (issue 24): packages follow the data flow, with no import cycle between them.

Every import counts, those made for the type checker only (under TYPE_CHECKING) included: a
cycle the interpreter never runs is still a cycle a reader has to hold in their head.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
CORE = ROOT / "core"
# the modules at core's top level are shared by every stage: errors, text, time, settings, the
# plugin surface (hookspecs, plugins, context), the deployment protocol and the composition root
TOP = "gridcase.core"


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(CORE).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join([TOP, *parts]), is_package


def _imports(path: Path) -> set[str]:
    """The gridcase modules `path` imports (relative imports resolved)."""
    name, is_package = _module_name(path)
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("gridcase.")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.startswith("gridcase."):
                found.add(module)
                found |= {f"{module}.{a.name}" for a in node.names}
    return found


def unit_of(module: str) -> str | None:
    """The node of the graph a core module belongs to: its package, or itself at the top."""
    if not module.startswith(TOP + "."):
        return None
    first = module.split(".")[2]
    return f"{TOP}.{first}"


def package_graph() -> dict[str, dict[str, set[str]]]:
    """{unit: {unit it imports: {"module -> module", …}}} over core's sources."""
    modules = {_module_name(p)[0] for p in CORE.rglob("*.py")}
    graph: dict[str, dict[str, set[str]]] = {}
    for path in CORE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        name, _ = _module_name(path)
        source = unit_of(name)
        for target in _imports(path) & modules:
            if (dest := unit_of(target)) and dest != source:
                graph.setdefault(source, {}).setdefault(dest, set()).add(f"{name} -> {target}")
    return graph


def cycles(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """Each strongly connected group of more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_between_core_packages():
    graph = package_graph()
    problems = []
    for group in cycles(graph):
        edges = sorted(e for a in group for b in group for e in graph.get(a, {}).get(b, ()))
        problems.append(f"{' / '.join(group)}:\n  " + "\n  ".join(edges))
    assert not problems, "import cycles between core's packages:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("gridcase.core.web", "gridcase.core.cli"),  # the server never needs the command line
        *[
            (f"gridcase.core.{p}", "gridcase.core.engine")
            for p in ("cases", "intake", "sla", "assess", "places")
        ],
        *[
            (f"gridcase.core.{p}", "gridcase.core.web")
            for p in ("cases", "intake", "sla", "assess", "places")
        ],
    ],
)
def test_a_stage_does_not_import_the_layers_above_it(package, forbidden):
    edges = package_graph().get(package, {}).get(forbidden, set())
    assert not edges, f"{package} imports {forbidden}: {sorted(edges)}"


def test_every_package_says_what_it_owns():
    for init in CORE.rglob("__init__.py"):
        if "migrations" in init.parts:
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc) > 40 and "TODO" not in doc, f"{init.relative_to(ROOT)} has no opening words"


def test_the_graph_sees_a_cycle_when_there_is_one():
    graph = {"a": {"b": {"a.x -> b.y"}}, "b": {"c": {"b.y -> c.z"}}, "c": {"a": {"c.z -> a.x"}}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b": set()}, "b": {}}) == []
