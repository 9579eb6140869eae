"""`seccomp-learn diff`, run as a user would, on a real recording and hand-written profiles.

The expected numbers are computed here from `docker_default` and the recording itself, not from
`tracer.diff`; the JSON is checked against the shape documented in docs/diff-format.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers import seccomp_learn

from tracer.baseline.decide import decide
from tracer.baseline.docker_rules import DOCKER_DEFAULT_CAPS
from tracer.baseline.reasons import REASONS
from tracer.baseline.resolve import docker_default
from tracer.profile.companions import COMPANIONS
from tracer.profile.extras import ALWAYS, RUNTIMES
from tracer.syscalls.names import is_known, numbers

ALLOWS = ("allowed", "allowed_with_args")
CLONE_NEWUSER = 0x10000000


def _profile(path: Path, rules: list[dict[str, Any]], arches: list[str] | None = None) -> Path:
    doc = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": arches or ["SCMP_ARCH_X86_64"],
           "syscalls": rules}
    path.write_text(json.dumps(doc))
    return path


def _allow(*names: str, args: list[dict[str, int | str]] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"names": list(names), "action": "SCMP_ACT_ALLOW"}
    if args:
        rule["args"] = args
    return rule


def _diff_json(*args: str, code: int = 0) -> dict[str, Any]:
    """diff --json; `code`: 0, or 1 for two profiles that differ (diff(1)'s convention)."""
    out = seccomp_learn("diff", "--json", *args)
    assert out.returncode == code, out.stderr
    return json.loads(out.stdout)


def _diff_text(*args: str, code: int = 0) -> str:
    out = seccomp_learn("diff", *args)
    assert out.returncode == code, out.stderr
    return out.stdout


def _allowed_x86_64(profile: Any) -> set[str]:
    return {n for n in numbers("x86_64") if decide(profile, n).status in ALLOWS}


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("diff") / "json.trace.json"
    rec = seccomp_learn("record", "-q", "-o", str(out), "--", "python3", "-c", "import json")
    assert rec.returncode == 0, rec.stderr
    return out


@pytest.fixture
def unshare_profile(tmp_path: Path) -> Path:
    return _profile(tmp_path / "unshare.json", [_allow("read", "write", "exit_group", "unshare")])


# ---- the JSON shape of docs/diff-format.md ---------------------------------------------------------------

_STR, _INT, _BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
_STRS = {"type": "array", "items": _STR}


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


_ARG = _obj(index=_INT, op=_STR, value=_INT, valueTwo=_INT)
_ALTS = {"type": "array", "items": {"type": "array", "items": _ARG}}
_HINT = _obj(kind={"enum": ["capability", "argument", "fallback", "none"]}, text=_STR,
             capability={"type": ["string", "null"]})
_SOURCE = _obj(path=_STR, kind={"enum": ["recording", "profile", "docker-default"]}, description=_STR,
               architectures=_STRS, default_action=_STR, names=_INT, names_x86_64=_INT,
               extras={"type": "object", "additionalProperties": _STRS})
_COMMON = {
    "format": {"const": "seccomp-learn-diff"}, "version": {"const": 1}, "abi": {"const": "x86_64"},
    "summary": _obj(needed=_INT, needed_allowed=_INT, baseline_allowed=_INT, removed=_INT,
                    removed_percent={"type": "number"}, dangerous_removed=_INT, not_allowed=_INT,
                    falls_back=_INT, conditions_unmet=_INT, conditions_unknown=_INT, not_counted=_STRS),
    "removed": {"type": "array",
                "items": _obj(cls=_STR, allowed=_INT, kept=_INT, removed=_STRS, dangerous=_STRS)},
    "dangerous_removed": {"type": "array", "items": _obj(name=_STR, cls=_STR, reason=_STR)},
    "notes": _STRS,
    "hosts": {"type": "array", "items": _obj(
        abi={"enum": ["x86_64", "aarch64"]}, architectures=_STRS, allowed=_STRS, absent=_STRS,
        mapped={"type": "array", "items": _obj(name=_STR, host=_STR, source=_STR, from_names=_STRS)})},
}
BASELINE_SCHEMA = _obj(**_COMMON, mode={"const": "baseline"}, baseline=_SOURCE, profile=_SOURCE,
                       blocked={"type": "array", "items": _obj(
                           name=_STR, cls=_STR, action=_STR, errno={"type": ["string", "null"]}, reason=_STR,
                           hint=_HINT, falls_back_to=_STRS)},
                       conditional={"type": "array", "items": _obj(
                           name=_STR, cls=_STR, baseline=_ALTS, baseline_text=_STR,
                           needed={"anyOf": [_ALTS, {"type": "null"}]}, needed_text=_STR,
                           source={"enum": ["observed", "profile", "any"]},
                           fits={"enum": ["yes", "no", "unknown"]},
                           misfits=_STRS, hint={"anyOf": [_HINT, {"type": "null"}]})},
                       dangerous_kept={"type": "array", "items": _obj(
                           name=_STR, cls=_STR, risk=_STR, why=_STR, conditions=_STR)})
PAIR_SCHEMA = _obj(**_COMMON, mode={"const": "pair"}, old=_SOURCE, new=_SOURCE,
                   added={"type": "array",
                          "items": _obj(name=_STR, cls=_STR, dangerous=_BOOL, decision=_STR)},
                   changed={"type": "array", "items": _obj(name=_STR, cls=_STR, old=_STR, new=_STR)})


# ---- a real recording against Docker's default ------------------------------------------------------------


def test_summary_numbers_match_an_independent_count(trace: Path) -> None:
    data = _diff_json(str(trace))
    jsonschema.validate(data, BASELINE_SCHEMA)
    baseline = docker_default()
    base = _allowed_x86_64(baseline)
    # What `emit` allows by default: the observed names, runc's (docker) names, the always group and the
    # companions whose trigger the recording shows.
    table = json.loads(trace.read_text())["abis"]["x86_64"]
    recorded = set(table)
    docker = RUNTIMES["docker"]
    fired = [row for row in COMPANIONS for t in row.triggers if t.name in table and (
        t.index is None or table[t.name].get("args", {}).get(str(t.index), {}).get("bits", 0) & t.bits)]
    emitted = recorded | set(docker.needs) | set(docker.sometimes) | set(ALWAYS) | {n for r in fired for n in r.adds}
    needed = {n for n in emitted if is_known("x86_64", n)}
    s = data["summary"]
    assert s["baseline_allowed"] == len(base)
    assert s["needed"] == len(needed)
    assert s["needed_allowed"] == len(needed & base)
    assert s["removed"] == len(base - needed)
    assert s["needed_allowed"] + s["removed"] == s["baseline_allowed"]
    assert s["needed_allowed"] + s["not_allowed"] == s["needed"]
    assert s["removed_percent"] == round(100 * len(base - needed) / len(base), 1)
    names = baseline.names("SCMP_ACT_ALLOW")
    assert data["baseline"]["names"] == len(names)
    assert data["baseline"]["names_x86_64"] == sum(1 for n in names if is_known("x86_64", n)) == len(base)
    assert data["baseline"]["names_x86_64"] < data["baseline"]["names"]  # Docker lists other arches' names

    removed = [n for row in data["removed"] for n in row["removed"]]
    assert len(removed) == len(set(removed)) == s["removed"]
    assert set(removed) == base - needed
    for row in data["removed"]:
        assert row["removed"][: len(row["dangerous"])] == row["dangerous"]  # dangerous first
        assert row["kept"] + len(row["removed"]) == row["allowed"]
    dangerous = [n for r in data["removed"] for n in r["dangerous"]]
    assert [d["name"] for d in data["dangerous_removed"]] == dangerous
    assert s["dangerous_removed"] == len(data["dangerous_removed"])
    assert "ptrace" in dangerous  # Docker allows it; `import json` does not need it


def test_blocked_names_are_really_refused_by_docker(trace: Path, unshare_profile: Path) -> None:
    baseline = docker_default()
    for path in (trace, unshare_profile):
        data = _diff_json(str(path))
        for entry in data["blocked"]:
            assert decide(baseline, entry["name"]).status not in ALLOWS, entry
        for entry in data["conditional"]:
            assert decide(baseline, entry["name"]).status == "allowed_with_args", entry


def test_text_report_fits_one_screen(trace: Path) -> None:
    data = _diff_json(str(trace))
    text = _diff_text(str(trace))
    s = data["summary"]
    assert "\x1b[" not in text  # not a terminal: no colour
    assert f"Needs {s['needed_allowed']} of the {s['baseline_allowed']} x86_64 syscalls" in text
    assert f"{s['removed']} removed ({s['removed_percent']:g}%)" in text
    flat = " ".join(text.split())
    b = data["baseline"]
    assert f"{b['names_x86_64']} of Docker's default's {b['names']} allowed names exist on x86_64" in flat
    assert "lists only SCMP_ARCH_X86_64: the kernel refuses the whole 32-bit ABI" in flat
    for row in data["removed"]:
        if row["removed"]:
            line = next(ln for ln in text.splitlines() if ln.startswith(row["cls"] + " "))
            assert f"{len(row['removed'])} of {row['allowed']}" in line
    for d in data["dangerous_removed"]:
        assert d["name"] in text
    assert len(text.splitlines()) <= 40


# ---- hand-written profiles ---------------------------------------------------------------------------------


def test_unshare_shows_dockers_reason_and_the_capability(unshare_profile: Path) -> None:
    data = _diff_json(str(unshare_profile))
    (entry,) = [b for b in data["blocked"] if b["name"] == "unshare"]
    assert entry["reason"] == REASONS["unshare"]
    assert entry["errno"] == "EPERM"
    assert entry["hint"] == {"kind": "capability", "text": "--cap-add SYS_ADMIN",
                             "capability": "CAP_SYS_ADMIN"}
    assert data["summary"]["not_allowed"] == 1

    text = _diff_text(str(unshare_profile))
    assert "Fails under the baseline" in text
    line = next(ln for ln in text.splitlines() if ln.startswith("unshare "))
    assert "EPERM" in line
    assert "--cap-add SYS_ADMIN" in line
    assert REASONS["unshare"].split()[0] in line
    assert " ".join(REASONS["unshare"].split()[:3]) in " ".join(text.split())


def test_cap_add_sys_admin_allows_unshare(unshare_profile: Path) -> None:
    data = _diff_json("--cap-add", "SYS_ADMIN", str(unshare_profile))
    assert data["blocked"] == []
    assert data["summary"]["not_allowed"] == 0
    admin = docker_default("amd64", DOCKER_DEFAULT_CAPS | {"CAP_SYS_ADMIN"})
    assert decide(admin, "unshare").status == "allowed"
    with_cap = _allowed_x86_64(admin)
    assert data["summary"]["baseline_allowed"] == len(with_cap)
    assert "SYS_ADMIN" in data["baseline"]["description"]
    text = _diff_text("--cap-add", "cap_sys_admin", str(unshare_profile))
    assert "Needed but not allowed" not in text  # unshare is only listed among the dangerous ones kept
    assert "Everything it needs is allowed by the baseline" in text


def test_argument_conditions_are_checked(tmp_path: Path) -> None:
    eq = "SCMP_CMP_EQ"
    path = _profile(tmp_path / "args.json", [
        _allow("read", "exit_group"),
        _allow("socket", args=[{"index": 0, "value": 2, "op": eq}]),  # AF_INET: allowed by Docker
        _allow("socket", args=[{"index": 0, "value": 40, "op": eq}]),  # AF_VSOCK: refused by Docker
        _allow("personality", args=[{"index": 0, "value": 8, "op": eq}]),  # PER_LINUX32: allowed
        _allow("clone", args=[{"index": 0, "value": CLONE_NEWUSER | 17, "op": eq}]),  # a user namespace
    ])
    data = _diff_json(str(path))
    jsonschema.validate(data, BASELINE_SCHEMA)
    cond = {c["name"]: c for c in data["conditional"]}
    assert set(cond) == {"socket", "personality", "clone"}
    assert cond["personality"]["fits"] == "yes"
    assert cond["socket"]["fits"] == "no"
    assert cond["socket"]["misfits"] == ["domain == AF_VSOCK"]
    assert cond["socket"]["hint"]["kind"] == "argument"  # no capability lifts Docker's socket rules
    assert cond["clone"]["fits"] == "no"
    assert cond["clone"]["hint"]["text"] == "--cap-add SYS_ADMIN"
    assert all(c["source"] == "profile" for c in cond.values())
    assert data["summary"]["conditions_unmet"] == 2
    # with SYS_ADMIN, Docker allows clone outright: it leaves the conditional section
    with_cap = _diff_json("--cap-add", "SYS_ADMIN", str(path))
    assert "clone" not in {c["name"] for c in with_cap["conditional"]}
    assert "clone" not in {b["name"] for b in with_cap["blocked"]}


def test_unrestricted_values_cannot_be_judged(tmp_path: Path) -> None:
    path = _profile(tmp_path / "any.json", [_allow("read", "socket")])
    (entry,) = _diff_json(str(path))["conditional"]
    got = (entry["name"], entry["fits"], entry["source"], entry["needed"])
    assert got == ("socket", "unknown", "any", None)


def test_a_baseline_file_and_itself_leave_nothing_removed(tmp_path: Path, unshare_profile: Path) -> None:
    data = _diff_json("--baseline", str(unshare_profile), str(unshare_profile))
    assert data["baseline"]["kind"] == "profile"
    s = data["summary"]
    assert (s["removed"], s["not_allowed"], s["needed"]) == (0, 0, 4)
    narrow = _profile(tmp_path / "narrow.json", [_allow("read", "exit_group")])
    data = _diff_json("--baseline", str(narrow), str(unshare_profile))
    assert sorted(b["name"] for b in data["blocked"]) == ["unshare", "write"]
    assert all(b["hint"]["kind"] == "none" and b["reason"] == "" for b in data["blocked"])


# ---- OLD NEW ---------------------------------------------------------------------------------------------


def test_two_profiles_show_added_removed_and_changed(tmp_path: Path) -> None:
    eq = "SCMP_CMP_EQ"
    old = _profile(tmp_path / "old.json", [_allow("read", "write", "ptrace"),
                                           _allow("socket", args=[{"index": 0, "value": 2, "op": eq}])])
    new = _profile(tmp_path / "new.json", [_allow("read", "openat", "unshare"),
                                           _allow("socket", args=[{"index": 0, "value": 2, "op": eq}]),
                                           _allow("socket", args=[{"index": 0, "value": 10, "op": eq}])])
    data = _diff_json(str(old), str(new), code=1)
    jsonschema.validate(data, PAIR_SCHEMA)
    assert [(a["name"], a["dangerous"]) for a in data["added"]] == [("openat", False), ("unshare", True)]
    assert sorted(n for r in data["removed"] for n in r["removed"]) == ["ptrace", "write"]
    assert [d["name"] for d in data["dangerous_removed"]] == ["ptrace"]
    (change,) = data["changed"]
    assert (change["name"], change["old"], change["new"]) == (
        "socket", "allowed if domain == AF_INET", "allowed if domain in {AF_INET, AF_INET6}")
    s = data["summary"]
    assert (s["baseline_allowed"], s["needed"], s["needed_allowed"], s["removed"], s["not_allowed"]) == (
        4, 4, 2, 2, 2)

    text = _diff_text(str(old), str(new), code=1)
    assert "2 added (not allowed by OLD)" in text
    for name in ("openat", "unshare", "ptrace", "write", "AF_INET6"):
        assert name in text


def test_a_recording_against_itself_has_no_differences(trace: Path) -> None:
    data = _diff_json(str(trace), str(trace))
    assert data["added"] == data["changed"] == []
    assert data["summary"]["removed"] == 0


# ---- bad input -------------------------------------------------------------------------------------------


def _bad_inputs(tmp_path: Path, trace: Path) -> list[tuple[list[str], str]]:
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    bad_action = _profile(tmp_path / "bad-action.json", [{"names": ["read"], "action": "SCMP_ACT_MAYBE"}])
    old_rec = tmp_path / "old.trace.json"
    doc = json.loads(trace.read_text())
    doc["version"] = 99
    old_rec.write_text(json.dumps(doc))
    broken_rec = tmp_path / "broken.trace.json"
    doc = json.loads(trace.read_text())
    del doc["runs"]
    broken_rec.write_text(json.dumps(doc))
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    missing = str(tmp_path / "missing.json")
    return [
        ([str(garbage)], str(garbage)),
        ([str(listing)], str(listing)),
        ([str(bad_action)], str(bad_action)),
        ([str(old_rec)], str(old_rec)),
        ([str(broken_rec)], str(broken_rec)),
        ([str(binary)], str(binary)),
        ([missing], missing),
        ([str(trace), str(garbage)], str(garbage)),
        (["--baseline", str(garbage), str(trace)], str(garbage)),
        (["--cap-add", "SYS_WIZARD", str(trace)], "--cap-add"),
        (["--cap-add", "SYS_ADMIN", str(trace), str(trace)], "--cap-add"),
        ([str(trace), str(trace), str(trace)], "OLD NEW"),
    ]


def test_bad_input_is_one_line_naming_the_file(tmp_path: Path, trace: Path) -> None:
    for args, named in _bad_inputs(tmp_path, trace):
        for extra in ([], ["--json"]):
            out = seccomp_learn("diff", *extra, *args)
            assert out.returncode == 2, (args, out.stderr)
            assert out.stdout == ""
            lines = out.stderr.strip().splitlines()
            assert len(lines) == 1, (args, out.stderr)
            assert named in lines[0], (args, lines[0])
            assert "Traceback" not in out.stderr


def test_dangerous_syscalls_kept_say_why(tmp_path: Path) -> None:
    trace, profile = tmp_path / "sh.trace.json", tmp_path / "sh.json"
    r = seccomp_learn("-q", "-o", str(profile), "--record", str(trace), "--", "sh", "-c", "true | cat")
    assert r.returncode == 0, r.stderr
    kept = {k["name"]: k for k in json.loads(seccomp_learn("diff", "--json", str(trace)).stdout)["dangerous_kept"]}
    rec = json.loads(trace.read_text())["abis"]["x86_64"]
    assert kept["clone"]["why"].startswith(f"observed {rec['clone']['count']} call(s) in 1 of 1 run(s)")
    assert "CLONE_NEWUSER" not in kept["clone"]["conditions"] and kept["clone"]["risk"]
    from_profile = json.loads(seccomp_learn("diff", "--json", str(profile)).stdout)["dangerous_kept"]
    assert next(k["why"] for k in from_profile if k["name"] == "clone").startswith("observed values only")
    assert "Dangerous syscalls kept" in seccomp_learn("diff", str(profile)).stdout
