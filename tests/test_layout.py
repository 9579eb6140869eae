"""The layering docs/architecture.md promises, checked on the source: every `from tracer.X` import (lazy ones
inside functions included) points to a room above the importer's in the rooms table, or to a module every
room may use; no module imports itself back through others; no module imports another's private names."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "tracer"


def rooms_in_order() -> tuple[list[str], set[str]]:
    """The rooms table's first column, top to bottom: rooms (subpackages) and the shared top-level modules."""
    text = (REPO / "docs" / "architecture.md").read_text()
    table = text.split("## Rooms", 1)[1].split("\n## ", 1)[0]
    rooms: list[str] = []
    shared: set[str] = {"__init__"}  # tracer/__init__.py: the version
    for line in table.splitlines():
        if line.startswith("| `"):
            for name in re.findall(r"`([\w.]+/?)`", line.split("|")[1]):
                if name.endswith("/"):
                    rooms.append(name[:-1])
                else:
                    shared.add(name.removesuffix(".py"))
    return rooms, shared


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) for every `from tracer... import names` and `import tracer...` in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "tracer":
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.split(".")[0] == "tracer"]
    return found


def room_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def targets(module: str, names: list[str], known: set[str]) -> list[str]:
    """The modules an import statement reaches: `from tracer.a import b` is tracer.a.b when that is a module."""
    return [f"{module}.{n}" if f"{module}.{n}" in known else module for n in names] or [module]


def allowed(importer: str, room: str, rooms: list[str], shared: set[str]) -> bool:
    """Whether a module of room `importer` may import one of room `room`."""
    if room == importer or room in shared:
        return True
    if importer == "__main__":  # `python -m tracer`
        return room == "cli"
    return importer not in shared and rooms.index(room) < rooms.index(importer)


def test_every_import_points_up_the_rooms_table() -> None:
    rooms, shared = rooms_in_order()
    on_disk = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert on_disk == set(rooms), "every subpackage has exactly one row in docs/architecture.md's rooms table"
    known = {module_name(p) for p in PACKAGE.rglob("*.py")}
    wrong = [f"{module_name(path)} imports {target}"
             for path in PACKAGE.rglob("*.py") for module, names in imports(path)
             for target in targets(module, names, known)
             if not allowed(room_of(module_name(path)), room_of(target), rooms, shared)]
    assert not wrong, "\n".join(wrong)


def test_commands_is_the_last_room_but_the_cli() -> None:
    rooms, _ = rooms_in_order()
    assert rooms[-2:] == ["commands", "cli"]


def test_no_module_imports_itself_back() -> None:
    known = {module_name(p) for p in PACKAGE.rglob("*.py")}
    graph = {module_name(p): {t for m, n in imports(p) for t in targets(m, n, known) if t in known}
             for p in PACKAGE.rglob("*.py")}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not cycles, "\n".join(cycles)


def test_no_private_name_or_module_is_imported_from_another_module() -> None:
    private = [f"{module_name(p)}: from {m} import {n}" for p in PACKAGE.rglob("*.py") for m, names in imports(p)
               for n in names if n.startswith("_") and not n.startswith("__")]
    private += [f"{module_name(p)}: {m}" for p in PACKAGE.rglob("*.py") for m, _ in imports(p)
                if any(part.startswith("_") and not part.startswith("__") for part in m.split("."))]
    assert not private, "\n".join(private)
