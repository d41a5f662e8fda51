"""The rooms of `pipelines/` keep to their jobs: checked on the code's own text.

- Only `pipelines/registry/` holds SQL that changes a database (inserts, updates,
  deletes, creates, alters, comments, attaches, copies): every other room reaches
  storage through the registry interface, and readers query through the read-only
  connection it hands them.
- The command line reaches the work through the application facade (`pipelines.app`),
  never a flow, an ingest stage or the registry's storage directly.
- The rooms import each other one way: the graph between them has no cycle.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from exam_rows import REPO

PIPELINES = REPO / "pipelines"

#: SQL that changes a database, as it starts a statement inside a string.
WRITING_SQL = re.compile(
    r"^\s*(INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s|ALTER\s"
    r"|ATTACH\s|DETACH\s|COPY\s|DROP\s|CHECKPOINT|COMMENT\s+ON\s)")

#: What the command line may import from `pipelines` besides itself.
CLI_MAY_IMPORT = ("pipelines.app", "pipelines.cli", "pipelines.runtime",
                  "pipelines.readers.reporting", "pipelines.readers.compare",
                  "pipelines.readers.summary", "pipelines.readers.prevalence",
                  "pipelines.registry.outcome")


def _modules() -> list[Path]:
    return sorted(PIPELINES.rglob("*.py"))


def _room(path: Path) -> str:
    parts = path.relative_to(PIPELINES).parts
    return parts[0] if len(parts) > 1 else path.stem


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string constant, f-strings' literal parts joined."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values
                           if isinstance(v, ast.Constant) and isinstance(v.value, str))
            found.append((node.lineno, text))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
    return found


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of import nodes under `if TYPE_CHECKING:` (annotations only, never run)."""
    hidden: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden.update(id(n) for part in node.body for n in ast.walk(part))
    return hidden


def _imports(tree: ast.AST) -> set[str]:
    """Every `pipelines` module (or name) imported where the code runs."""
    names: set[str] = set()
    hidden = _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return {n for n in names if n.startswith("pipelines")}


def test_only_the_registry_room_holds_sql_that_writes() -> None:
    offenders = []
    for path in _modules():
        if _room(path) == "registry":
            continue
        for lineno, text in _strings(ast.parse(path.read_text(encoding="utf-8"))):
            if WRITING_SQL.search(text):
                offenders.append(f"{path.relative_to(REPO)}:{lineno}: {text[:60]!r}")
    assert offenders == []


def test_the_command_line_goes_through_the_facade() -> None:
    offenders = []
    for path in sorted((PIPELINES / "cli").glob("*.py")):
        for name in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if name != "pipelines" and not name.startswith(CLI_MAY_IMPORT):
                offenders.append(f"{path.relative_to(REPO)} imports {name}")
    assert offenders == []


def room_graph() -> dict[str, set[str]]:
    """room -> the rooms it imports (a room is a folder of `pipelines/` or a top module)."""
    graph: dict[str, set[str]] = {}
    for path in _modules():
        room = _room(path)
        for name in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            parts = name.split(".")
            if len(parts) > 1 and parts[1] != room and parts[1] != "__init__":
                graph.setdefault(room, set()).add(parts[1])
        graph.setdefault(room, set())
    return {room: {r for r in targets if r in graph} for room, targets in graph.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_rooms_import_each_other_one_way() -> None:
    graph = room_graph()
    assert _cycle(graph) is None, f"rooms in a cycle: {' -> '.join(_cycle(graph) or [])}"
    # the expected shape: the command line on top, storage and the runtime at the bottom
    assert "cli" not in set().union(*(graph[r] for r in graph if r != "cli"))
    assert graph["registry"] <= {"runtime"}
    assert graph["runtime"] == set()


#: The facade's functions that run a Prefect flow (and so want the early server).
FLOW_FUNCTIONS = ("application.run(", "application.reassess(", "application.forget(")


def _commands(group, path: tuple[str, ...] = ()):  # noqa: ANN001, ANN202 - click objects
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_the_console_script_knows_every_command_that_runs_a_flow() -> None:
    """`entry.FLOW_COMMANDS` (kept light: the console script reads it before importing
    anything) names exactly the commands whose body calls a flow-running facade function."""
    import inspect

    import typer

    from pipelines.cli.commands import app
    from pipelines.cli.entry import FLOW_COMMANDS

    running = {path for path, command in _commands(typer.main.get_command(app))
               if any(call in inspect.getsource(command.callback) for call in FLOW_FUNCTIONS)}
    assert running == set(FLOW_COMMANDS)
