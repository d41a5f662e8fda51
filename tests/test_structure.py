"""The project's structure, enforced: no import cycle, small modules and functions, layers.

A newcomer should find each thing in one place and read any module on its own; these
tests keep it so as the code grows. They read the source (the AST), never import it.

- No import cycle between the modules of `pipelines`, `schemas`, `sources`, `transforms`.
  Every `import` and `from ... import` counts, those inside functions too (a
  function-local import that dodges a cycle is still a cycle of design); imports under
  `if TYPE_CHECKING:` do not (they never run). `from pkg import name`, where `pkg.name`
  is a module, imports that module.
- No module over 400 lines and no function over 60 lines, outside tests/, samplegen/ and
  bench/.
- One-way layers between the top-level packages: `schemas` imports none of the others,
  `transforms` only `schemas`, `sources` only `schemas` and `transforms`; `pipelines` may
  import all. A type-only import is a dependency too, so here TYPE_CHECKING imports count.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipelines", "schemas", "sources", "transforms")
#: Top-level folders whose code is not held to the size limits.
NOT_SIZED = ("tests", "samplegen", "bench")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
#: top-level package -> the other top-level packages it may import.
LAYERS: dict[str, frozenset[str]] = {
    "schemas": frozenset(),
    "transforms": frozenset({"schemas"}),
    "sources": frozenset({"schemas", "transforms"}),
    "pipelines": frozenset({"schemas", "transforms", "sources"}),
}


@dataclass(frozen=True)
class Import:
    """One module importing another of the checked packages, at a line of its file."""

    source: str
    target: str
    path: Path
    line: int
    type_only: bool


def modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> file, for every module of `packages` under `root`."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    """`if TYPE_CHECKING:` or `if typing.TYPE_CHECKING:`."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(
    nodes: Iterable[ast.AST], type_only: bool = False
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement below `nodes` (in functions, `except` handlers, ... too),
    and whether it sits in the body of an `if TYPE_CHECKING:`."""
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, type_only
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _import_nodes(node.body, True)
            yield from _import_nodes(node.orelse, type_only)
        else:
            yield from _import_nodes(ast.iter_child_nodes(node), type_only)


def _base_of(node: ast.ImportFrom, name: str, is_package: bool) -> str:
    """The absolute module a `from` import names (relative ones resolved)."""
    if not node.level:
        return node.module or ""
    package = name.split(".") if is_package else name.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _targets(node: ast.Import | ast.ImportFrom, name: str, is_package: bool,
             known: set[str]) -> Iterator[str]:
    """The checked modules an import statement imports."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names if alias.name in known)
        return
    base = _base_of(node, name, is_package)
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if submodule in known:
            yield submodule
        elif base in known:
            yield base


def imports(root: Path, packages: tuple[str, ...]) -> list[Import]:
    """Every import from one checked module of another, in file and line order."""
    found = modules(root, packages)
    known = set(found)
    edges: list[Import] = []
    for name, path in found.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node, type_only in _import_nodes(tree.body):
            edges.extend(Import(name, target, path, node.lineno, type_only)
                         for target in _targets(node, name, is_package, known)
                         if target != name)
    return edges


def _components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan). graphlib would find only the first cycle,
    and a graph library is not worth a dependency for ~100 modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _shortest_cycle(graph: dict[str, set[str]], start: str, members: set[str]) -> list[str]:
    """The shortest path from `start` back to itself inside one component."""
    before: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(before[path[-1]])
                return [*reversed(path), start]
            if nxt in members and nxt not in before:
                before[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"{start} is in no cycle")  # a component always holds one


def import_cycles(edges: list[Import]) -> list[str]:
    """One line per cycle of run-time imports: a shortest cycle, then every module that
    takes part in it (a component of mutually importing modules)."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        if not edge.type_only:
            graph.setdefault(edge.source, set()).add(edge.target)
    cycles = []
    for members in _components(graph):
        if len(members) > 1:
            path = _shortest_cycle(graph, members[0], set(members))
            cycles.append(" -> ".join(path) + f"  (modules in the cycle: {', '.join(members)})")
    return cycles


def layer_violations(edges: list[Import], root: Path) -> list[str]:
    """`file:line: a imports b` for every import against the one-way layers."""
    wrong = []
    for edge in edges:
        source, target = edge.source.split(".")[0], edge.target.split(".")[0]
        if source != target and target not in LAYERS[source]:
            shown = edge.path.relative_to(root).as_posix()
            wrong.append(f"{shown}:{edge.line}: {edge.source} imports {edge.target} "
                         f"({source} may import {', '.join(sorted(LAYERS[source])) or 'none'})")
    return wrong


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.AST]]:
    """(qualified name, node) of every function and method, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{prefix}{node.name}"
            if not isinstance(node, ast.ClassDef):
                yield name, node
            yield from _functions(node, f"{name}.")
        else:
            yield from _functions(node, prefix)


def size_problems(path: Path, root: Path) -> list[str]:
    """`file: N lines` and `file:function: N lines` over the limits. A function's length
    runs from its `def` line to its last line (decorators not counted)."""
    text = path.read_text(encoding="utf-8")
    shown = path.relative_to(root).as_posix()
    problems = []
    lines = len(text.splitlines())
    if lines > MAX_MODULE_LINES:
        problems.append(f"{shown}: {lines} lines (at most {MAX_MODULE_LINES})")
    for name, node in _functions(ast.parse(text, filename=str(path))):
        length = node.end_lineno - node.lineno + 1
        if length > MAX_FUNCTION_LINES:
            problems.append(f"{shown}:{name}: {length} lines (at most {MAX_FUNCTION_LINES})")
    return problems


def sized_files(root: Path) -> list[Path]:
    """Every module of the project's top-level packages but tests/, samplegen/, bench/."""
    return sorted(
        path
        for package in root.iterdir()
        if (package / "__init__.py").is_file() and package.name not in NOT_SIZED
        for path in package.rglob("*.py")
    )


# --- the project --------------------------------------------------------------------------


def test_no_import_cycle_between_modules() -> None:
    cycles = import_cycles(imports(ROOT, PACKAGES))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_module_over_400_lines_and_no_function_over_60() -> None:
    files = sized_files(ROOT)
    assert {p.relative_to(ROOT).parts[0] for p in files} >= set(PACKAGES)
    problems = [problem for path in files for problem in size_problems(path, ROOT)]
    assert not problems, "too long:\n" + "\n".join(problems)


def test_packages_import_one_way() -> None:
    wrong = layer_violations(imports(ROOT, PACKAGES), ROOT)
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


# --- the checks themselves, on a small tree ---------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_a_cycle_through_function_local_and_handler_imports_is_found(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "schemas/__init__.py": "",
        "schemas/a.py": "from schemas.b import X\n",
        "schemas/b.py": "X = 1\n\ndef f():\n    from schemas import c\n    return c\n",
        "schemas/c.py": "try:\n    pass\nexcept ImportError:\n    import schemas.a\n",
        "schemas/d.py": "from schemas.a import X\n",  # imports into the cycle, not part of it
    })
    assert import_cycles(imports(root, ("schemas",))) == [
        "schemas.a -> schemas.b -> schemas.c -> schemas.a"
        "  (modules in the cycle: schemas.a, schemas.b, schemas.c)"
    ]


def test_type_checking_imports_make_no_cycle_and_names_are_not_modules(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "schemas/__init__.py": "from schemas.a import A\n",
        "schemas/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                        "    from schemas.b import B\nA = 1\n",
        "schemas/b.py": "from schemas import A\n",  # a name of the package, not a module
    })
    edges = imports(root, ("schemas",))
    assert [(e.source, e.target, e.type_only) for e in edges] == [
        ("schemas", "schemas.a", False),
        ("schemas.a", "schemas.b", True),
        ("schemas.b", "schemas", False),
    ]
    assert import_cycles(edges) == []


def test_relative_imports_resolve(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "sources/__init__.py": "from . import x\n",
        "sources/x.py": "from .y import Y\nfrom ..schemas import z\n",
        "sources/y.py": "from . import x\n",
        "schemas/__init__.py": "",
        "schemas/z.py": "",
    })
    edges = imports(root, ("schemas", "sources"))
    assert {(e.source, e.target) for e in edges} == {
        ("sources", "sources.x"), ("sources.x", "sources.y"), ("sources.x", "schemas.z"),
        ("sources.y", "sources.x"),
    }
    assert import_cycles(edges) == [
        "sources.x -> sources.y -> sources.x  (modules in the cycle: sources.x, sources.y)"
    ]


def test_layers_name_the_file_line_and_the_imports_allowed(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "schemas/__init__.py": "",
        "schemas/a.py": "import os\n\ndef f():\n    from transforms.t import T\n",
        "transforms/__init__.py": "",
        "transforms/t.py": "from schemas.a import f\nfrom sources.s import S\nT = 1\n",
        "sources/__init__.py": "",
        "sources/s.py": "from transforms.t import T\nfrom pipelines import p\nS = 1\n",
        "pipelines/__init__.py": "",
        "pipelines/p.py": "from sources.s import S\nfrom schemas.a import f\n",
    })
    assert layer_violations(imports(root, PACKAGES), root) == [
        "schemas/a.py:4: schemas.a imports transforms.t (schemas may import none)",
        "sources/s.py:2: sources.s imports pipelines.p (sources may import schemas, transforms)",
        "transforms/t.py:2: transforms.t imports sources.s (transforms may import schemas)",
    ]


def test_sizes_at_and_over_the_limits(tmp_path: Path) -> None:
    body = "    x = 1\n"
    at_limit = "def fits():\n" + body * (MAX_FUNCTION_LINES - 1)
    over = "class K:\n    def long(self):\n" + ("    " + body) * MAX_FUNCTION_LINES
    root = _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/ok.py": at_limit + "\n" * (MAX_MODULE_LINES - MAX_FUNCTION_LINES),
        "pkg/big.py": over + "\n" * (MAX_MODULE_LINES - MAX_FUNCTION_LINES - 1),
        "tests/__init__.py": "",
        "tests/t.py": "\n" * 1000,
    })
    assert len((root / "pkg/ok.py").read_text().splitlines()) == MAX_MODULE_LINES
    assert [p.relative_to(root).as_posix() for p in sized_files(root)] == [
        "pkg/__init__.py", "pkg/big.py", "pkg/ok.py"]
    assert size_problems(root / "pkg/ok.py", root) == []
    assert size_problems(root / "pkg/big.py", root) == [
        "pkg/big.py: 401 lines (at most 400)",
        "pkg/big.py:K.long: 61 lines (at most 60)",
    ]
