"""`seccomp-learn merge`: algebraic properties on generated recordings, and real recordings merged."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from helpers import seccomp_learn
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures import build
from tracer.errors import UserError
from tracer.recording import schema as rec_io
from tracer.recording.schema import ARG_VALUES_CAP, ArgValues, Recording, Run, SyscallStats
from tracer.recording.union import low_coverage, merge

# Keys are consistent across recordings, as they are in real ones: a name always has its number on its ABI
# (the kernel's, from the x86_64 and i386 tables of Linux 7.1: every reader checks them).
KEYS = {"read": (0, 3), "write": (1, 4), "close": (3, 6), "socket": (41, 359), "clone": (56, 120),
        "mkdir": (83, 39), "#999": (999, 999), "#1234": (1234, 1234)}
ABIS = ("x86_64", "i386")
EXES = ("/bin/sh", "/usr/bin/python3", "/app")


def _is_flags(key: str, index: int) -> bool:
    return (len(key) + index) % 2 == 1  # fixed per (syscall, argument), like the argument tables


@st.composite
def arg_values(draw: st.DrawFn, flags: bool) -> ArgValues:
    many = draw(st.booleans())
    values = set() if many else draw(st.sets(st.integers(0, 40), max_size=ARG_VALUES_CAP))
    bits = None
    if flags:  # the tracer ORs every value into bits, so bits always covers the values
        bits = draw(st.integers(0, 2**16))
        for v in values:
            bits |= v
    return ArgValues(values=values, many=many, bits=bits)


@st.composite
def runs(draw: st.DrawFn, prefix: str) -> Run:
    return Run(
        id=f"{prefix}{draw(st.sampled_from(['a', 'b', 'c', 'd']))}",
        command=draw(st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=3)),
        started=draw(st.sampled_from(["2024-01-01T00:00:00Z", "2024-06-01T12:00:00Z"])),
        duration_s=draw(st.integers(0, 10_000)) / 1000,
        exit=draw(st.sampled_from([{"code": 0}, {"code": 3}, {"signal": 15, "name": "SIGTERM"}])),
        partial=draw(st.booleans()),
        kernel="6.1.0",
        machine="x86_64",
        follow=draw(st.sampled_from(["all", "main"])),
        tasks=draw(st.integers(0, 5)),
        syscalls=draw(st.integers(0, 1000)),
    )


@st.composite
def recordings(draw: st.DrawFn, prefix: str) -> Recording:
    """A valid recording whose run ids all start with prefix (distinct prefixes: disjoint runs).

    Runs are sorted by id, as in every recording the tool writes (merge lists runs in id order).
    """
    run_list = sorted(draw(st.lists(runs(prefix), max_size=3, unique_by=lambda r: r.id)), key=lambda r: r.id)
    rec = Recording(tool=draw(st.sampled_from(["seccomp-learn 0.1.0", "seccomp-learn 0.2.0", "other 1"])),
                    runs=run_list)
    ids = [r.id for r in run_list]
    if not ids:
        return rec
    for abi in draw(st.sets(st.sampled_from(ABIS))):
        table = rec.abis.setdefault(abi, {})
        for key in draw(st.sets(st.sampled_from(sorted(KEYS)), min_size=1)):
            seen_by = draw(st.lists(st.sampled_from(ids), min_size=1, unique=True))
            stats = SyscallStats(nr=KEYS[key][ABIS.index(abi)],
                                 counts={r: draw(st.integers(0, 10**6)) for r in seen_by},
                                 executables=draw(st.sets(st.sampled_from(EXES), min_size=1)))
            for index in draw(st.sets(st.integers(0, 5), max_size=3)):
                stats.args[index] = draw(arg_values(_is_flags(key, index)))
            table[key] = stats
    return rec


def text(rec: Recording) -> str:
    return rec_io.dumps(rec)


A, B, C = recordings("p/"), recordings("q/"), recordings("r/")
SETTINGS = settings(max_examples=80, deadline=None)


@SETTINGS
@given(A)
def test_generated_recordings_are_valid(a: Recording) -> None:
    assert text(rec_io.from_json(json.loads(text(a)))) == text(a)


@SETTINGS
@given(A, B)
def test_merge_is_commutative(a: Recording, b: Recording) -> None:
    assert text(merge([a, b])) == text(merge([b, a]))


@SETTINGS
@given(A, B, C)
def test_merge_is_associative(a: Recording, b: Recording, c: Recording) -> None:
    left = merge([merge([a, b]), c])
    right = merge([a, merge([b, c])])
    assert text(left) == text(right) == text(merge([a, b, c]))


@SETTINGS
@given(A, B)
def test_merge_is_idempotent(a: Recording, b: Recording) -> None:
    assert text(merge([a])) == text(a)
    assert text(merge([a, copy.deepcopy(a)])) == text(a)
    ab = merge([a, b])
    assert text(merge([ab, a])) == text(ab)
    assert text(merge([ab, ab])) == text(ab)


@SETTINGS
@given(A, B, C)
def test_overlapping_merges_agree(a: Recording, b: Recording, c: Recording) -> None:
    """Runs shared by two inputs (same id, same content) count once."""
    assert text(merge([merge([a, b]), merge([b, c])])) == text(merge([a, b, c]))


@SETTINGS
@given(A, B)
def test_merge_is_a_union_that_drops_nothing(a: Recording, b: Recording) -> None:
    m = merge([a, b])
    rec_io.from_json(json.loads(text(m)))  # valid
    assert {r.id for r in m.runs} == {r.id for r in a.runs} | {r.id for r in b.runs}
    for abi in set(a.abis) | set(b.abis):
        keys = set(a.abis.get(abi, {})) | set(b.abis.get(abi, {}))
        assert set(m.abis[abi]) == keys
        for key in keys:
            parts = [rec.abis[abi][key] for rec in (a, b) if key in rec.abis.get(abi, {})]
            got = m.abis[abi][key]
            assert got.count == sum(p.count for p in parts)  # disjoint runs: counts add up
            assert got.runs == set().union(*(p.runs for p in parts))
            assert got.executables == set().union(*(p.executables for p in parts))
            for index in {i for p in parts for i in p.args}:
                merged = got.args[index]
                seen = [p.args[index] for p in parts if index in p.args]
                union = set().union(*(s.values for s in seen))
                if any(s.many for s in seen) or len(union) > ARG_VALUES_CAP:
                    assert merged.many and not merged.values
                else:
                    assert not merged.many and merged.values == union


@SETTINGS
@given(A)
def test_low_coverage_names_syscalls_of_a_single_run(a: Recording) -> None:
    low = low_coverage(a)
    if len(a.runs) < 2:
        assert low == {}
        return
    flagged = {(run, name) for run, names in low.items() for name in names}
    for abi, table in a.abis.items():
        for key, stats in table.items():
            name = key if abi == "x86_64" else f"{abi}:{key}"
            seen_once = len(stats.runs) == 1 and stats.count > 0  # a count of 0 only: a base's, no run saw it
            assert ((next(iter(stats.runs)), name) in flagged) == seen_once


def test_same_run_id_with_different_content_is_an_error() -> None:
    run = Run(id="x", command=["a"], started="s", duration_s=1.0, exit={"code": 0})
    other = copy.deepcopy(run)
    other.exit = {"code": 1}
    with pytest.raises(UserError, match="run 'x' is also in"):
        merge([Recording("t", [run]), Recording("t", [other])], ["one.json", "two.json"])


# ---- real recordings ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("real")
    hello, mk = d / "hello.trace.json", d / "mkdir.trace.json"
    r = seccomp_learn("record", "-q", "--run-id", "hello", "-o", str(hello), "--", "sh", "-c", "echo hi")
    assert r.returncode == 0, r.stderr
    r = seccomp_learn("record", "-q", "--run-id", "mk", "-o", str(mk), "--", str(build("mkdir")), str(d / "newdir"))
    assert r.returncode == 0, r.stderr
    return hello, mk


def test_merge_real_recordings_of_two_workloads(real: tuple[Path, Path], tmp_path: Path) -> None:
    hello, mk = real
    out, out2 = tmp_path / "m.trace.json", tmp_path / "m2.trace.json"
    r = seccomp_learn("merge", str(hello), str(mk), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert f"wrote {out}" in r.stderr
    low = [line for line in r.stderr.splitlines() if "low coverage" in line]
    assert any("run mk (1 of 2)" in line and " mkdir" in line and " rmdir" in line for line in low), r.stderr
    merged = json.loads(out.read_text())
    a, b = json.loads(hello.read_text()), json.loads(mk.read_text())
    assert [run["id"] for run in merged["runs"]] == ["hello", "mk"]
    table = merged["abis"]["x86_64"]
    assert set(table) == set(a["abis"]["x86_64"]) | set(b["abis"]["x86_64"])
    assert table["mkdir"]["runs"] == {"mk": 1}
    assert any(exe.startswith(str(build("mkdir").parent)) for exe in table["mkdir"]["executables"])
    assert table["write"]["runs"].keys() >= {"hello"}
    for name, entry in table.items():  # counts are summed, provenance kept
        parts = [rec["abis"]["x86_64"].get(name) for rec in (a, b)]
        assert entry["count"] == sum(p["count"] for p in parts if p)
        assert set(entry["executables"]) == set().union(*(set(p["executables"]) for p in parts if p))
    # commutative and idempotent on real files too
    r = seccomp_learn("merge", "-q", str(mk), str(hello), str(out), "-o", str(out2))
    assert r.returncode == 0, r.stderr
    assert out2.read_text() == out.read_text()
    # and a profile from the merge allows both workloads
    r = seccomp_learn("emit", str(out))
    assert r.returncode == 0 and '"mkdir"' in r.stdout


def test_merge_to_stdout(real: tuple[Path, Path]) -> None:
    r = seccomp_learn("merge", "-q", *map(str, real), "-o", "-")
    assert r.returncode == 0 and r.stderr == ""
    assert json.loads(r.stdout)["format"] == "seccomp-learn-recording"


def _bad_version(p: Path) -> None:
    data = json.loads(p.read_text())
    data["version"] = 99
    p.write_text(json.dumps(data))


def _bad_count(p: Path) -> None:
    data = json.loads(p.read_text())
    data["abis"]["x86_64"]["write"]["count"] += 1
    p.write_text(json.dumps(data))


@pytest.mark.parametrize(("spoil", "message"), [
    (_bad_version, "format version 99 is not supported"),
    (_bad_count, "abis.x86_64.write.count is not the sum"),
    (lambda p: p.write_text("{not json"), "not valid JSON: Expecting property name enclosed in double quotes (line 1"),
    (lambda p: p.write_text('{"format": "something-else"}'), "'format' is not"),
    (lambda p: p.unlink(), "cannot read recording"),
])
def test_bad_recording_is_one_line_naming_the_file(real: tuple[Path, Path], tmp_path: Path, spoil, message) -> None:
    bad = tmp_path / "bad.trace.json"
    bad.write_text(real[0].read_text())
    spoil(bad)
    out = tmp_path / "out.trace.json"
    r = seccomp_learn("merge", str(real[1]), str(bad), "-o", str(out))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"seccomp-learn: {bad}: ") and message in r.stderr, r.stderr
    assert not out.exists()
