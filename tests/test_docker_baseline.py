"""The project's model of Docker's default profile must decide every syscall as the upstream JSON does.

The expected side is a deliberately small resolver written here from moby's `setupSeccomp` semantics, over
the reference `default.json`; it shares no code with `tracer.baseline`.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from tracer.baseline.decide import decide
from tracer.baseline.docker_rules import DOCKER_DEFAULT_CAPS
from tracer.baseline.profile_file import load_profile_file
from tracer.baseline.reasons import REASONS
from tracer.baseline.resolve import docker_default, required_capability
from tracer.errors import UserError

REFERENCE_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
REFERENCE = REFERENCE_DIR / "docker-default.json"
needs_reference = pytest.mark.skipif(not REFERENCE_DIR.is_dir(), reason="shared/reference is absent")

ARCHES = ("amd64", "x86", "arm64")
KERNELS = ((4, 4), (6, 18))
NATIVE_MAIN_ARCH = {"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64", "x86": "SCMP_ARCH_X86"}


def _reference() -> dict:
    return json.loads(REFERENCE.read_text())


def _file_caps(ref: dict) -> frozenset[str]:
    return frozenset(
        c for r in ref["syscalls"] for key in ("includes", "excludes") for c in r.get(key, {}).get("caps", [])
    )


def _cap_sets(ref: dict) -> dict[str, frozenset[str]]:
    return {
        "default": DOCKER_DEFAULT_CAPS,
        "+SYS_ADMIN": DOCKER_DEFAULT_CAPS | {"CAP_SYS_ADMIN"},
        "+SYS_PTRACE": DOCKER_DEFAULT_CAPS | {"CAP_SYS_PTRACE"},
        "-SYS_CHROOT": DOCKER_DEFAULT_CAPS - {"CAP_SYS_CHROOT"},
        "file": _file_caps(ref),
    }


def _kept(rule: dict, arch: str, caps: frozenset[str], kernel: tuple[int, int]) -> bool:
    inc, exc = rule.get("includes", {}), rule.get("excludes", {})
    if arch in exc.get("arches", []) or set(exc.get("caps", [])) & caps:
        return False
    if "minKernel" in exc and kernel >= tuple(map(int, exc["minKernel"].split("."))):
        return False
    if inc.get("arches") and arch not in inc["arches"]:
        return False
    if not set(inc.get("caps", [])) <= caps:
        return False
    return "minKernel" not in inc or kernel >= tuple(map(int, inc["minKernel"].split(".")))


def _expected(ref: dict, arch: str, caps: frozenset[str], kernel: tuple[int, int]) -> dict[str, tuple]:
    """name -> (status, errno_ret, set of arg alternatives) from the raw JSON."""
    kept = [r for r in ref["syscalls"] if _kept(r, arch, caps, kernel)]
    out = {}
    for name in {n for r in ref["syscalls"] for n in r["names"]}:
        mine = [r for r in kept if name in r["names"]]
        plain = [r for r in mine if not r.get("args")]
        if plain and plain[0]["action"] == "SCMP_ACT_ALLOW":
            out[name] = ("allowed", None, frozenset())
        elif plain and plain[0]["action"] == "SCMP_ACT_ERRNO":
            out[name] = ("errno", plain[0].get("errnoRet", 1), frozenset())
        elif mine:
            alts = frozenset(
                tuple((a["index"], a["value"], a.get("valueTwo", 0), a["op"]) for a in r["args"])
                for r in mine
            )
            out[name] = ("allowed_with_args", None, alts)
        else:
            out[name] = ("blocked", ref["defaultErrnoRet"], frozenset())
    return out


def _observed(profile, name: str) -> tuple:
    d = decide(profile, name)
    alts = frozenset(tuple((a.index, a.value, a.value_two, a.op) for a in alt) for alt in d.args)
    return d.status, d.errno_ret, alts


def _combos():
    names = ("default", "+SYS_ADMIN", "+SYS_PTRACE", "-SYS_CHROOT", "file")
    return [
        pytest.param(a, c, k, id=f"{a}-{c}-{k[0]}.{k[1]}")
        for a, c, k in itertools.product(ARCHES, names, KERNELS)
    ]


@needs_reference
@pytest.mark.parametrize(("arch", "capset", "kernel"), _combos())
def test_every_name_matches_reference(arch: str, capset: str, kernel: tuple[int, int]) -> None:
    ref = _reference()
    caps = _cap_sets(ref)[capset]
    profile = docker_default(arch, caps, kernel)
    expected = _expected(ref, arch, caps, kernel)
    assert len(expected) == 426
    got = {n: _observed(profile, n) for n in expected}
    assert {n: got[n] for n in expected if got[n] != expected[n]} == {}
    assert profile.default_action == ref["defaultAction"]
    assert profile.default_errno_ret == ref["defaultErrnoRet"]
    main = NATIVE_MAIN_ARCH[arch]
    entry = next((e for e in ref["archMap"] if e["architecture"] == main), None)
    want_arches = [] if entry is None else [main, *(entry["subArchitectures"] or [])]
    assert profile.architectures == want_arches


@needs_reference
def test_rule_count_and_order_match_reference() -> None:
    from tracer.baseline.docker_rules import RULES
    ref = _reference()
    assert [sorted(r.names) for r in RULES] == [sorted(r["names"]) for r in ref["syscalls"]]
    assert all(r.comment for r in RULES)


@needs_reference
def test_loader_reads_reference_like_the_model() -> None:
    loaded = load_profile_file(REFERENCE, kernel=(6, 18))
    model = docker_default("amd64", DOCKER_DEFAULT_CAPS, (6, 18))
    names = {n for r in _reference()["syscalls"] for n in r["names"]} | {"keyctl"}
    assert loaded.architectures == model.architectures
    assert all(decide(loaded, n) == decide(model, n) for n in names)


def _arg_ok(alts, value: int) -> bool:
    ops = {"SCMP_CMP_LT": value.__lt__, "SCMP_CMP_EQ": value.__eq__, "SCMP_CMP_GT": value.__gt__}
    return any(all(ops[a.op](a.value) for a in alt) for alt in alts)


def test_known_facts_amd64_default() -> None:
    profile = docker_default()
    names = {n for r in profile.syscalls for n in r.names}
    assert sum(decide(profile, n).status == "allowed" for n in names) == 367
    old = docker_default(kernel=(4, 4))
    assert sum(decide(old, n).status == "allowed" for n in names) == 364
    assert profile.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]

    sock = decide(profile, "socket")
    assert sock.status == "allowed_with_args"
    assert not _arg_ok(sock.args, 38) and not _arg_ok(sock.args, 40)  # AF_ALG, AF_VSOCK
    assert all(_arg_ok(sock.args, v) for v in (1, 2, 10, 16, 37, 39, 41, 45))

    clone3 = decide(profile, "clone3")
    assert (clone3.status, clone3.errno_ret) == ("errno", 38)
    assert decide(docker_default(caps=DOCKER_DEFAULT_CAPS | {"CAP_SYS_ADMIN"}), "clone3").status == "allowed"

    keyctl = decide(profile, "keyctl")
    assert (keyctl.status, keyctl.errno_ret) == ("blocked", 1)
    assert REASONS["keyctl"]


def test_reasons_name_blocked_or_gated_calls() -> None:
    """Every name with a reason is denied or conditional somewhere Docker runs (old kernel, default caps)."""
    for name, why in REASONS.items():
        assert why.strip().endswith(".")
        profiles = [docker_default(a, DOCKER_DEFAULT_CAPS, k) for a in ARCHES for k in KERNELS]
        statuses = {decide(p, name).status for p in profiles}
        assert statuses != {"allowed"}, name


def test_comments_kept_and_arch_quirks() -> None:
    profile = docker_default("amd64")
    assert all(rule.comment for rule in profile.syscalls)
    assert decide(profile, "arch_prctl").status == "allowed"
    assert decide(docker_default("arm64"), "arch_prctl").status == "blocked"
    assert decide(docker_default("x86"), "modify_ldt").status == "allowed"
    assert docker_default("x86").architectures == []  # moby's archMap has no SCMP_ARCH_X86 main entry
    assert docker_default("i386").architectures == []  # the project's ABI name means the same native arch
    with pytest.raises(UserError):
        docker_default("x32")  # never a native arch for moby


@pytest.mark.parametrize(
    ("name", "arch", "cap"),
    [
        ("bpf", "amd64", "CAP_BPF"),
        ("perf_event_open", "amd64", "CAP_PERFMON"),
        ("clone", "amd64", "CAP_SYS_ADMIN"),
        ("clone3", "amd64", "CAP_SYS_ADMIN"),
        ("reboot", "amd64", "CAP_SYS_BOOT"),
        ("chroot", "amd64", "CAP_SYS_CHROOT"),
        ("open_by_handle_at", "arm64", "CAP_DAC_READ_SEARCH"),
        ("kcmp", "amd64", "CAP_SYS_PTRACE"),
        ("ptrace", "amd64", None),
        ("keyctl", "amd64", None),
        ("read", "amd64", None),
    ],
)
def test_required_capability(name: str, arch: str, cap: str | None) -> None:
    assert required_capability(name, arch) == cap


# --- load_profile_file on user input -------------------------------------------------------------------

GOOD = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}


def _rule(**extra) -> dict:
    """A profile with one rule for "x": ALLOW plus `extra` fields."""
    return {**GOOD, "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ALLOW", **extra}]}


def _arg(**arg) -> dict:
    return _rule(args=[{"index": 0, "value": 1, "op": "SCMP_CMP_EQ", **arg}])


def _write(tmp_path: Path, doc, name: str = "p.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ('{"defaultAction": "SCMP_ACT_ERRNO", ', "not valid JSON"),
        ({"defaultAction": "SCMP_ACT_NOPE"}, "unknown action"),
        ({**GOOD, "syscalls": [{"names": ["x"], "action": "SCMP_ACT_DENY"}]}, "unknown action"),
        (_arg(op="SCMP_CMP_FOO"), "unknown operator"),
        ({**GOOD, "syscalls": [{"names": "read", "action": "SCMP_ACT_ALLOW"}]}, "expected a list"),
        (_arg(index="0"), "expected an integer"),
        (_arg(value=-1), "expected an integer"),
        (_arg(value=1.5), "expected an integer"),
        (_arg(index=6), "expected an integer"),
        (_arg(value=True), "expected an integer"),
        (_rule(args={"index": 0}), "expected a list"),
        ({**GOOD, "syscalls": {"names": ["x"]}}, "expected a list"),
        ({**GOOD, "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]}, "both 'name'"),
        (_rule(errnoRet=1), "cannot return"),
        (_rule(includes={"minKernel": "4.8.1"}), "invalid kernel version"),
        (_rule(includes={"caps": "CAP_SYS_ADMIN"}), "expected a list"),
        (_rule(names=[]), "at least one"),
        ({**GOOD, "architectures": ["SCMP_ARCH_X86_64"],
          "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": []}]}, "both 'architectures'"),
        ({**GOOD, "architectures": ["x86_64"]}, "unknown architecture"),
        ({"syscalls": []}, "missing defaultAction"),
        ({"ociVersion": "1.2.0", "linux": {}}, "no linux.seccomp"),
        ([1, 2], "expected an object"),
    ],
)
def test_load_rejects_bad_input(tmp_path: Path, doc, needle: str) -> None:
    path = _write(tmp_path, doc)
    with pytest.raises(UserError) as err:
        load_profile_file(path)
    assert err.value.source == str(path)
    assert needle in str(err.value)
    assert str(err.value).startswith(f"{path}: ")


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError) as err:
        load_profile_file(tmp_path / "absent.json")
    assert err.value.source == str(tmp_path / "absent.json")


def test_load_accepts_oci_config_legacy_name_and_archmap(tmp_path: Path) -> None:
    seccomp = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [{"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
                    {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
        "syscalls": [
            {"name": "read", "action": "SCMP_ACT_ALLOW"},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
             "excludes": {"caps": ["CAP_KILL"]}},
            {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS"},
        ],
    }
    path = _write(tmp_path, {"ociVersion": "1.2.0", "linux": {"seccomp": seccomp}}, "config.json")
    profile = load_profile_file(path, kernel=(6, 18))
    assert profile.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]
    assert decide(profile, "read").status == "allowed"
    assert decide(profile, "mount").status == "blocked"
    # excludes.caps: the rule is dropped because CAP_KILL (a default cap) is held, so the default applies.
    assert (decide(profile, "ptrace").status, decide(profile, "ptrace").errno_ret) == ("blocked", 1)
    kill = decide(profile, "kill")
    assert (kill.status, kill.action) == ("blocked", "SCMP_ACT_KILL_PROCESS")
    no_kill = load_profile_file(path, caps=DOCKER_DEFAULT_CAPS - {"CAP_KILL"}, kernel=(6, 18))
    assert (decide(no_kill, "ptrace").status, decide(no_kill, "ptrace").errno_ret) == ("errno", 38)
    assert decide(load_profile_file(path, arch="arm64", kernel=(6, 18)), "read").status == "allowed"
    assert load_profile_file(path, arch="arm64", kernel=(6, 18)).architectures == [
        "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]


def test_load_deny_list_profile(tmp_path: Path) -> None:
    """A default-allow profile: unlisted names are allowed, listed ones get the rule's errno."""
    doc = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
           "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]}
    profile = load_profile_file(_write(tmp_path, doc), kernel=(6, 18))
    assert profile.architectures == ["SCMP_ARCH_X86_64"]
    assert decide(profile, "read").status == "allowed"
    assert (decide(profile, "mount").status, decide(profile, "mount").errno_ret) == ("errno", 1)


@needs_reference
def test_load_podman_profile() -> None:
    """Podman's profile uses the same Moby format plus extra keys (defaultErrno, errno) that are ignored."""
    profile = load_profile_file(REFERENCE_DIR / "podman-default.json", kernel=(6, 18))
    assert profile.default_errno_ret == 38
    assert profile.architectures[0] == "SCMP_ARCH_X86_64"
    assert decide(profile, "io_uring_setup").status == "blocked"
