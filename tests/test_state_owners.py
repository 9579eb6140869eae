"""Each fact of the tracing session's State has one writer (tracer/capture/state.py's docstring), checked on the
source: outside its owner module no statement assigns a State attribute or changes its contents. The
receivers checked are the names the capture code gives a State (`st`, `state`, `self.st`; `self` in state.py)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATE = "tracer/capture/state.py"
PER_CALL = "tracer/capture/per_call.py"
SESSION = "tracer/capture/session.py"
OWNER = {
    # the per-call counters
    "calls": PER_CALL, "args": PER_CALL, "denied": PER_CALL, "denied_counts": PER_CALL, "notified": PER_CALL,
    # what the session does around the backend's loop
    "signals": SESSION, "stopped": SESSION, "driver": SESSION, "driver_status": SESSION, "ready_fd": SESSION,
    "not_ready": SESSION, "detaching": SESSION, "timed_out": SESSION,
    # the executables, the tasks and how the backend is driven: State's own methods
    **{name: STATE for name in ("exes", "exe_index", "exe_of", "live", "seen", "tasks_seen", "root", "root_status",
                                "exec_ok", "killed_rest", "attached", "setuid_unprivileged", "incomplete", "repair",
                                "restarted", "signal_all", "sync")},
}
_MUTATORS = {"add", "discard", "remove", "pop", "popitem", "clear", "update", "setdefault", "append", "extend",
             "insert", "sort", "reverse"}


def state_attributes() -> set[str]:
    tree = ast.parse((REPO / STATE).read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "State")
    init = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    return {t.attr for n in ast.walk(init) if isinstance(n, (ast.Assign, ast.AnnAssign))
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"}


def _is_state(node: ast.expr, in_state_module: bool) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ("st", "state") or (in_state_module and node.id == "self")
    return isinstance(node, ast.Attribute) and node.attr == "st" and isinstance(node.value, ast.Name)


def _written(node: ast.expr, in_state_module: bool) -> str | None:
    """The State attribute an assignment target writes (`st.x`, `st.x[k]`), or None."""
    while isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Attribute) and _is_state(node.value, in_state_module):
        return node.attr
    if isinstance(node, ast.Tuple):
        return next((w for e in node.elts if (w := _written(e, in_state_module))), None)
    return None


def writes(source: str, attrs: set[str], in_state: bool = False) -> list[tuple[str, int]]:
    """(attribute, line) of every write to a State attribute in a module's source, outside State.__init__."""
    tree = ast.parse(source)
    skip = {id(n) for c in tree.body if in_state and isinstance(c, ast.ClassDef) and c.name == "State"
            for f in c.body if isinstance(f, ast.FunctionDef) and f.name == "__init__" for n in ast.walk(f)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATORS
              and isinstance(node.func.value, ast.Attribute) and _is_state(node.func.value.value, in_state)):
            targets = [node.func.value]
        for target in targets:
            name = _written(target, in_state)
            if name in attrs:
                found.append((name, node.lineno))
    return found


def test_every_state_attribute_has_an_owner() -> None:
    assert state_attributes() == set(OWNER)


def test_only_the_owner_writes_a_state_attribute() -> None:
    attrs = state_attributes()
    wrong = [f"{module}:{line} writes State.{name} (owner: {OWNER[name]})"
             for path in sorted((REPO / "tracer").rglob("*.py"))
             for module in [path.relative_to(REPO).as_posix()]
             for name, line in writes(path.read_text(), attrs, module == STATE) if module != OWNER[name]]
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_each_kind_of_write() -> None:
    """Assignment, augmented assignment, item assignment, deletion and a mutating call are writes; reads are not."""
    source = ("st.root = 1\nst.tasks_seen += 1\nst.exe_of[3] = 0\ndel self.st.exe_of[3]\nst.live.add(4)\n"
              "st.root, x = 2, 3\nst.exe_of.get(3)\nx = st.live\nself.root = 5\n")
    assert sorted(writes(source, {"root", "tasks_seen", "exe_of", "live"}), key=lambda w: w[1]) == [
        ("root", 1), ("tasks_seen", 2), ("exe_of", 3), ("exe_of", 4), ("live", 5), ("root", 6)]
    assert ("root", 9) in writes(source, {"root"}, in_state=True)  # State's own methods write through self
