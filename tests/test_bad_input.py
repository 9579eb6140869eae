"""Bad input, across every command: one line naming the file and the problem, exit 2, nothing written.

Truncated or non-JSON files, wrong format versions, unknown actions and operators, 50 MB of `[`, a 20 MB
string, integers past Python's digit limit, non-UTF-8 bytes in content and in file names, unknown
syscalls, argument values out of range. Plus hypothesis fuzzing of the recording and profile loaders.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import SL, seccomp_learn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracer.analysis.findings import lint_doc
from tracer.baseline.profile_file import load_profile_file
from tracer.errors import UserError
from tracer.recording import schema as rec_io

KEEP = "known content: must not be overwritten\n"
MB = 1 << 20


def _commands() -> set[str]:
    out = seccomp_learn("--help").stdout
    return set(re.findall(r"^  (\w+)\s", out.split("Commands:", 1)[1], re.M))


COMMANDS = _commands()


# ---- the bad files ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("good")
    rec, prof = d / "good.trace.json", d / "good.json"
    proc = seccomp_learn("record", "-q", "-o", str(rec), "--", "python3", "-c", "import socket")
    assert proc.returncode == 0, proc.stderr
    proc = seccomp_learn("emit", "-q", str(rec), "-o", str(prof))
    assert proc.returncode == 0, proc.stderr
    return {"rec": rec, "prof": prof, "rec_doc": json.loads(rec.read_text()),
            "prof_doc": json.loads(prof.read_text())}


def _mutated(which: str, mutate: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], bytes]:
    """A maker of the good recording ("rec_doc") or profile ("prof_doc"), changed by `mutate`."""
    def make(g: dict[str, Any]) -> bytes:
        doc = copy.deepcopy(g[which])
        mutate(doc)
        return json.dumps(doc).encode()
    return make


def _rec(mutate: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], bytes]:
    return _mutated("rec_doc", mutate)


def _prof(mutate: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], bytes]:
    return _mutated("prof_doc", mutate)


def _first_entry(doc: dict[str, Any]) -> dict[str, Any]:
    table = doc["abis"]["x86_64"]
    return table[sorted(table)[0]]


def _arg_rule(doc: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in doc["syscalls"] if r.get("args"))


def _set_arg_values(value: int) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        entry = next(e for e in doc["abis"]["x86_64"].values() if e.get("args"))
        next(iter(entry["args"].values()))["values"] = [value]
    return mutate


def _with_duration(g: dict[str, Any], text: bytes) -> bytes:
    """The good recording as bytes, its run's duration_s written as `text` (JSON cannot say NaN or 1e999)."""
    return re.sub(rb'"duration_s": [0-9.]+', b'"duration_s": ' + text, g["rec"].read_bytes(), count=1)


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc.__setitem__(key, value)


# Each: (kind, content). kind: "any" (bad as anything), "recording" or "profile" (bad as that, and not
# the other either, so every file-taking command must refuse it).
CASES: dict[str, tuple[str, Callable[[dict[str, Any]], bytes]]] = {
    "empty": ("any", lambda g: b""),
    "not-json": ("any", lambda g: b"this is not JSON\n"),
    "truncated-recording": ("recording", lambda g: g["rec"].read_bytes()[: len(g["rec"].read_bytes()) // 2]),
    "truncated-profile": ("profile", lambda g: g["prof"].read_bytes()[: len(g["prof"].read_bytes()) // 2]),
    "json-array": ("any", lambda g: b"[1, 2, 3]"),
    "deep-brackets-50mb": ("any", lambda g: b"[" * (50 * MB)),
    "deep-objects": ("any", lambda g: b'{"a": ' * 200_000),
    "huge-string-recording": ("recording", _rec(_set("version", "A" * (20 * MB)))),
    "huge-string-profile": ("profile", _prof(_set("defaultAction", "A" * (20 * MB)))),
    "huge-integer": ("any", lambda g: b'{"format": "seccomp-learn-recording", "version": ' + b"9" * 5000 + b"}"),
    "not-utf8": ("any", lambda g: b'{"format": "seccomp-learn-recording\xff\xfe", "defaultAction": "\xff"}'),
    "utf16": ("any", lambda g: g["rec"].read_text().encode("utf-16")),
    "wrong-version": ("recording", _rec(_set("version", 99))),
    "wrong-format": ("recording", _rec(_set("format", "strace-json"))),
    "unknown-syscall": ("recording", _rec(lambda d: d["abis"]["x86_64"].__setitem__(
        "no_such_call", _first_entry(d)))),
    "unknown-abi": ("recording", _rec(lambda d: d["abis"].__setitem__("vax", d["abis"]["x86_64"]))),
    "arg-above-2**64": ("recording", _rec(_set_arg_values(2**64))),
    "arg-negative": ("recording", _rec(_set_arg_values(-1))),
    "count-mismatch": ("recording", _rec(lambda d: _first_entry(d).__setitem__("count", 10**30))),
    "duration-overflow": ("recording", _rec(lambda d: d["runs"][0].__setitem__("duration_s", 10**400))),
    "nr-out-of-range": ("recording", _rec(lambda d: _first_entry(d).__setitem__("nr", 2**40))),
    "unknown-action": ("profile", _prof(lambda d: d["syscalls"][0].__setitem__("action", "SCMP_ACT_MAYBE"))),
    "unknown-default-action": ("profile", _prof(_set("defaultAction", "SCMP_ACT_PERHAPS"))),
    "unknown-operator": ("profile", _prof(lambda d: _arg_rule(d)["args"][0].__setitem__("op", "SCMP_CMP_XX"))),
    "value-above-2**64": ("profile", _prof(lambda d: _arg_rule(d)["args"][0].__setitem__("value", 2**64))),
    "value-negative": ("profile", _prof(lambda d: _arg_rule(d)["args"][0].__setitem__("value", -1))),
    "arg-index-6": ("profile", _prof(lambda d: _arg_rule(d)["args"][0].__setitem__("index", 6))),
    "unknown-arch": ("profile", _prof(_set("architectures", ["SCMP_ARCH_VAX"]))),
    "min-kernel-5000-digits": ("profile", _prof(lambda d: d["syscalls"][0].__setitem__(
        "includes", {"minKernel": "9" * 5000 + ".1"}))),
    "names-not-strings": ("profile", _prof(lambda d: d["syscalls"][0].__setitem__("names", [1, None]))),
    # issue 23, finding 9: what merge wrote as NaN/Infinity, what emit refused after merge accepted it,
    # and nesting json.loads accepts but copying or printing it would not
    "duration-1e999": ("recording", lambda g: _with_duration(g, b"1e999")),
    "duration-nan": ("recording", lambda g: _with_duration(g, b"NaN")),
    "duration-string-inf": ("recording", lambda g: _with_duration(g, b'"inf"')),
    "nr-mismatch": ("recording", _rec(lambda d: _first_entry(d).__setitem__("nr", _first_entry(d)["nr"] + 1))),
    "unnamed-but-named": ("recording", _rec(lambda d: d["abis"]["x86_64"].__setitem__(
        "#0", {**_first_entry(d), "nr": 0}))),
    "nested-600-unknown-key": ("any", lambda g: g["rec"].read_bytes().replace(
        b"{", b'{"x-deep": ' + b"[" * 600 + b"]" * 600 + b", ", 1)),
}


@pytest.fixture(scope="module")
def bad_files(good: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    out = {}
    for name, (_, make) in CASES.items():
        out[name] = d / f"{name}.json"
        out[name].write_bytes(make(good))
    return out


# ---- the commands -------------------------------------------------------------------------------------

# (command, argv builder: (bad file, good recording, good profile, -o target))
Build = Callable[[str, str, str, str], list[str]]
INVOCATIONS: dict[str, tuple[str, Build]] = {
    "emit": ("emit", lambda b, r, p, o: ["emit", b, "-o", o]),
    "merge": ("merge", lambda b, r, p, o: ["merge", r, b, "-o", o]),
    # alone: beside the good recording, a bad copy of it is refused anyway, for its run id's other content
    "merge-alone": ("merge", lambda b, r, p, o: ["merge", b, "-o", o]),
    "diff": ("diff", lambda b, r, p, o: ["diff", b]),
    "diff-new": ("diff", lambda b, r, p, o: ["diff", p, b]),
    "diff-baseline": ("diff", lambda b, r, p, o: ["diff", "--baseline", b, r]),
    "report": ("report", lambda b, r, p, o: ["report", b, "-o", o]),
    "report-baseline": ("report",
                        lambda b, r, p, o: ["report", "--baseline", b, r, "-o", o]),
    "lint": ("lint", lambda b, r, p, o: ["lint", b]),
}


def _params() -> list[Any]:
    # A bad recording is not a profile either (and vice versa): every file position refuses every case.
    params = []
    for inv, (cmd, _) in INVOCATIONS.items():
        for case in CASES:
            marks = [] if cmd in COMMANDS else [pytest.mark.skip(reason=f"no `{cmd}` command yet")]
            params.append(pytest.param(inv, case, id=f"{inv}-{case}", marks=marks))
    return params


def _assert_one_line_error(proc: Any, shown_name: str) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr[-2000:]
    assert lines[0].startswith("seccomp-learn: ") and shown_name in lines[0], lines[0][:500]
    assert len(lines[0]) < 2000, f"{len(lines[0])} characters"
    assert proc.stdout == ""


@pytest.mark.parametrize(("inv", "case"), _params())
def test_bad_file_is_one_line_exit_2_nothing_written(inv: str, case: str, good: dict[str, Any],
                                                     bad_files: dict[str, Path], tmp_path: Path) -> None:
    target = tmp_path / "target.json"
    target.write_text(KEEP)
    bad = bad_files[case]
    argv = INVOCATIONS[inv][1](str(bad), str(good["rec"]), str(good["prof"]), str(target))
    proc = seccomp_learn(*argv, cwd=tmp_path, timeout=60)
    _assert_one_line_error(proc, str(bad))
    assert target.read_text() == KEEP
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target.json"]  # no temp or default-named files


def _file_commands(bad: str, good: dict[str, Any], target: str) -> list[list[str]]:
    return [INVOCATIONS[i][1](bad, str(good["rec"]), str(good["prof"]), target)
            for i in ("emit", "merge", "diff", "report", "lint") if INVOCATIONS[i][0] in COMMANDS]


def test_non_utf8_file_names(good: dict[str, Any], tmp_path: Path) -> None:
    import subprocess

    target = tmp_path / "target.json"
    target.write_text(KEEP)
    bad = os.fsencode(tmp_path) + b"/bad-\xff\xfe.json"
    with open(bad, "wb") as f:
        f.write(b'{"truncated": ')
    for argv in _file_commands(os.fsdecode(bad), good, str(target)):
        raw = [os.fsencode(a) for a in [*SL, *argv]]
        proc = subprocess.run(raw, capture_output=True, timeout=60)
        stderr = proc.stderr.decode("utf-8", "backslashreplace")
        assert "Traceback" not in stderr, (argv[0], stderr)
        assert proc.returncode == 2, (argv[0], stderr)
        assert len(stderr.splitlines()) == 1 and "bad-" in stderr, (argv[0], stderr)
        assert target.read_text() == KEEP


def test_missing_file_and_directory(good: dict[str, Any], tmp_path: Path) -> None:
    target = tmp_path / "target.json"
    target.write_text(KEEP)
    for bad in (tmp_path / "absent.json", tmp_path):
        for argv in _file_commands(str(bad), good, str(target)):
            _assert_one_line_error(seccomp_learn(*argv), str(bad))
            assert target.read_text() == KEEP


def test_lint_names_unknown_syscalls_and_surrogates_without_crashing(good: dict[str, Any],
                                                                     tmp_path: Path) -> None:
    # Unknown names are normal in someone else's profile (other arches): not an error, a lint finding.
    doc = copy.deepcopy(good["prof_doc"])
    doc["syscalls"][0]["names"] += ["no_such_call", "bad\udcffname"]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    proc = seccomp_learn("lint", str(path))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stdout.count("[unknown-syscall]") == 2 and "bad\\udcffname" in proc.stdout
    if "diff" in COMMANDS:
        diff = seccomp_learn("diff", str(path), text=False)  # it may echo the name's raw bytes
        assert diff.returncode == 0 and b"Traceback" not in diff.stderr, diff.stderr


@pytest.mark.parametrize(
    "options",
    [["--arch", "vax"], ["--errno", "-5"], ["--errno", "99999999999999999999999"], ["--arch", "x86_64,\udcff"],
     ["--format", "yaml"], ["--runtime", "lxc"]],
    ids=["arch", "errno-negative", "errno-huge", "arch-non-utf8", "format", "runtime"],
)
@pytest.mark.parametrize("cmd", ["run", "emit"])
def test_bad_options_write_nothing(cmd: str, options: list[str], good: dict[str, Any], tmp_path: Path) -> None:
    import subprocess

    target = tmp_path / "target.json"
    target.write_text(KEEP)
    tail = ["--", "true"] if cmd == "run" else [str(good["rec"])]
    argv = [os.fsencode(a) for a in [*SL, cmd, "-q", *options, "-o", str(target), *tail]]
    proc = subprocess.run(argv, capture_output=True, timeout=60, cwd=tmp_path)
    stderr = proc.stderr.decode("utf-8", "backslashreplace")
    assert proc.returncode == 2 and "Traceback" not in stderr, stderr
    assert len(stderr.splitlines()) == 1 and stderr.startswith("seccomp-learn: "), stderr  # usage errors too
    assert target.read_text() == KEEP
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target.json"]


def test_record_of_a_missing_program_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "target.json"
    target.write_text(KEEP)
    proc = seccomp_learn("record", "-q", "-o", str(target), "--", str(tmp_path / "no-such-program"))
    assert proc.returncode == 127 and "Traceback" not in proc.stderr  # the shell's exit code, as documented
    assert target.read_text() == KEEP


@pytest.mark.skipif("ci" not in COMMANDS, reason="no `ci` command yet")
@pytest.mark.parametrize(
    "content",
    [b"", b"profiles: [1, 2\n", b"\xff\xfe", b"[" * MB, b"[" * (50 * MB), b'"' + b"A" * (20 * MB) + b'"',
     b"a:\n" + b"".join(b"  " * i + b"- \n" for i in range(1, 300))],
    ids=["empty", "truncated", "not-utf8", "deep-1mb", "deep-50mb", "huge-string", "deep-block"],
)
def test_ci_bad_config(content: bytes, tmp_path: Path) -> None:
    config = tmp_path / "seccomp-learn.yaml"
    config.write_bytes(content)
    proc = seccomp_learn("ci", "--config", str(config), cwd=tmp_path, timeout=60)
    _assert_one_line_error(proc, str(config))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seccomp-learn.yaml"]


# ---- fuzzing ------------------------------------------------------------------------------------------

JSON_LEAVES = (st.none() | st.booleans() | st.integers() | st.integers(min_value=2**63, max_value=2**70)
               | st.integers(min_value=-(2**70), max_value=-1) | st.floats(allow_nan=True) | st.text(max_size=20))
JSON = st.recursive(JSON_LEAVES, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
    st.text(max_size=10), kids, max_size=4), max_leaves=20)
# What `recording.load` turns into UserError: from_json signals malformed data with these.
FROM_JSON_ERRORS = (KeyError, TypeError, ValueError, AttributeError, OverflowError)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
TMP = Path(tempfile.mkdtemp(prefix="seccomp-learn-fuzz-"))


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(data: st.DataObject, doc: Any, rounds: int = 3) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, rounds))):
        path = data.draw(st.sampled_from(_paths(doc)))
        if not path:
            return data.draw(JSON)
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and data.draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(JSON)
    return doc


def _load_text(loader: Callable[[Path], Any], doc: Any) -> None:
    path = TMP / "fuzz.json"
    path.write_text(json.dumps(doc))
    try:
        loader(path)
    except UserError as exc:
        assert str(path) in str(exc)


@FUZZ
@given(JSON)
def test_fuzz_recording_from_json_arbitrary(value: Any) -> None:
    with contextlib.suppress(FROM_JSON_ERRORS):
        rec_io.from_json(value)
    _load_text(rec_io.load, value)


@FUZZ
@given(st.data())
def test_fuzz_recording_mutated(good: dict[str, Any], data: st.DataObject) -> None:
    doc = _mutate(data, good["rec_doc"])
    with contextlib.suppress(FROM_JSON_ERRORS):
        rec_io.from_json(doc)
    _load_text(rec_io.load, doc)


def _profile_loaders(doc: Any) -> None:
    _load_text(load_profile_file, doc)
    with contextlib.suppress(UserError):
        lint_doc(doc, "fuzz.json")


@FUZZ
@given(JSON)
def test_fuzz_profile_loader_arbitrary(value: Any) -> None:
    _profile_loaders(value)


@FUZZ
@given(st.data())
def test_fuzz_profile_mutated(good: dict[str, Any], data: st.DataObject) -> None:
    _profile_loaders(_mutate(data, good["prof_doc"]))


@pytest.mark.skipif(not (Path(__file__).resolve().parents[1].parent / "shared" / "reference"
                         / "docker-default.json").exists(), reason="../shared/reference is absent")
@FUZZ
@given(st.data())
def test_fuzz_docker_default_mutated(data: st.DataObject) -> None:
    path = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "docker-default.json"
    _profile_loaders(_mutate(data, json.loads(path.read_text())))
