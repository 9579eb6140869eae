"""Profiles for the sandboxes outside containers, checked by the sandboxes themselves.

A workload is learned once on the host; its recording is emitted as a systemd drop-in, a classic-BPF
filter, its PFC text and a firejail profile. systemd-analyze (verify, syscall-filter) judges the drop-in,
bubblewrap loads the BPF filter with `--seccomp FD` and the kernel enforces it, firejail loads the keep list.
What the files hold is read here with the test's own parsing, not with the project's reader.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from helpers import PROFILE_COMMANDS, SL, assert_refused, seccomp_learn

from fixtures import build

WORKLOAD = ["sh", "-c", "echo hi > out.txt; cat out.txt"]


def _needs(program: str) -> pytest.MarkDecorator:
    """Skip without the sandbox, except in CI (.ci/run installs it): there a missing one fails the test."""
    return pytest.mark.skipif(shutil.which(program) is None and not os.environ.get("CI"), reason=f"no {program}")


needs_bwrap, needs_firejail, needs_systemd_analyze = _needs("bwrap"), _needs("firejail"), _needs("systemd-analyze")


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The workload's recording and every sandbox format emitted from it."""
    d = tmp_path_factory.mktemp("sandboxes")
    rec = d / "w.trace.json"
    r = seccomp_learn("record", "-q", "-o", str(rec), "--", *WORKLOAD, cwd=d)
    assert r.returncode == 0 and r.stdout == "hi\n", r.stderr
    out = {"recording": rec}
    for fmt, name in (("systemd", "w.conf"), ("bpf", "w.bpf"), ("pfc", "w.pfc"), ("firejail", "w.profile"),
                      ("docker", "w.json")):
        out[fmt] = d / name
        extra = ["--runtime", "none"] if fmt == "docker" else []
        r = seccomp_learn("emit", "-q", "--format", fmt, *extra, str(rec), "-o", str(out[fmt]))
        assert r.returncode == 0, r.stderr
    return out


def _allowed_json(path: Path) -> set[str]:
    return {n for r in json.loads(path.read_text())["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}


def _settings(path: Path) -> dict[str, list[str]]:
    """Every KEY=VALUE of a unit file, values of repeated keys in order."""
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def _systemd_known_names() -> set[str]:
    """Every name this machine's systemd knows: the members of its groups, nested groups expanded."""
    text = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager"], capture_output=True, text=True,
                          check=True).stdout
    members: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("@"):
            group = members.setdefault(line.strip(), [])
        elif line.strip() and not line.strip().startswith("#"):
            group.append(line.strip())

    def names(word: str) -> set[str]:
        return {n for m in members[word] for n in names(m)} if word.startswith("@") else {word}

    return {n for g in members for n in names(g)}


# ---- systemd --------------------------------------------------------------------------------------------


@needs_systemd_analyze
def test_drop_in_lists_the_allowed_names_each_known_to_systemd(learned: dict[str, Path]) -> None:
    settings = _settings(learned["systemd"])
    listed = [n for value in settings["SystemCallFilter"] for n in value.split()]
    assert set(listed) == _allowed_json(learned["docker"]) and len(listed) == len(set(listed))
    assert sorted(set(listed) - _systemd_known_names()) == []
    assert settings["SystemCallArchitectures"] == ["native"] and settings["SystemCallErrorNumber"] == ["EPERM"]


@needs_systemd_analyze
def test_drop_in_passes_systemd_analyze_verify(learned: dict[str, Path], tmp_path: Path) -> None:
    unit = tmp_path / "sl-demo.service"
    unit.write_text("[Unit]\nDescription=seccomp-learn test\n[Service]\nType=oneshot\nExecStart=/bin/true\n")
    drop_in = tmp_path / "sl-demo.service.d" / "seccomp-learn.conf"
    drop_in.parent.mkdir()
    for text, clean in ((learned["systemd"].read_text(), True),
                        (learned["systemd"].read_text() + "SystemCallFilter=no_such_call\n", False)):
        drop_in.write_text(text)
        r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
        about_drop_in = [line for line in r.stderr.splitlines() if line.startswith(str(drop_in))]
        assert r.returncode == 0, r.stderr
        # the control (a name systemd does not know) shows that verify did read the drop-in
        assert about_drop_in == [] if clean else "no_such_call" in "".join(about_drop_in), r.stderr


@pytest.fixture(scope="module")
def int80(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A program that makes i386 calls (int $0x80) from a 64-bit process, and its recording."""
    program, rec = build("int80"), tmp_path_factory.mktemp("int80") / "int80.trace.json"
    r = seccomp_learn("record", "-q", "-o", str(rec), "--", str(program))
    assert r.returncode == 0 and r.stdout == "int80\n" and "i386" in json.loads(rec.read_text())["abis"], r.stderr
    return program, rec


def test_drop_in_says_what_systemd_cannot_express(learned: dict[str, Path], int80: tuple[Path, Path]) -> None:
    r = seccomp_learn("emit", "-q", "--format", "systemd", str(int80[1]), "-o", "-")
    assert r.returncode == 0 and re.search(r"^SystemCallArchitectures=native x86$", r.stdout, re.M), r
    # the workload's argument rules and the ENOSYS fallbacks cannot be held by a name list: the comment names them
    docker = json.loads(learned["docker"].read_text())
    ruled = {n for rule in docker["syscalls"] if rule.get("args") for n in rule["names"]}
    comment = "\n".join(line for line in learned["systemd"].read_text().splitlines() if line.startswith("#"))
    assert ruled and all(re.search(rf"^#   {n}: the profile allows it only for ", comment, re.M) for n in ruled)
    assert "ENOSYS" in comment


def test_systemd_unit_writes_only_the_drop_in_under_root_dir(learned: dict[str, Path], tmp_path: Path) -> None:
    r = seccomp_learn("systemd-unit", "web.service", str(learned["recording"]), "--root-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    written = [p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()]
    assert written == [Path("etc/systemd/system/web.service.d/seccomp-learn.conf")]
    assert (tmp_path / written[0]).read_text() == learned["systemd"].read_text()
    for bad in ("../web", "a/b", ".hidden", ""):
        r = seccomp_learn("systemd-unit", bad, str(learned["recording"]), "--root-dir", str(tmp_path))
        assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr, (bad, r)
    assert [p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()] == written


# A real systemd: this machine's user manager (systemd --user), in a private mount and pid namespace whose
# /run is a fresh tmpfs (the manager wants /run/systemd/system; the host's /run is left alone). The units and
# their drop-ins sit in its runtime unit directory; the manager is stopped, and the namespace ends with sh.
SYSTEMD_USER = r"""
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/system /run/user/0/systemd
chmod 700 /run/user/0
cp -r "$1" /run/user/0/systemd/user
export XDG_RUNTIME_DIR=/run/user/0
/lib/systemd/systemd --user --log-target=null & manager=$!
trap 'kill $manager; wait $manager' EXIT
for _ in $(seq 100); do [ -S /run/user/0/systemd/private ] && break; sleep 0.1; done
"""
needs_systemd = pytest.mark.skipif((not os.path.exists("/lib/systemd/systemd") or os.geteuid() != 0)
                                   and not os.environ.get("CI"), reason="needs systemd and root")


def _systemd_user(units: dict[str, tuple[str, Path]], commands: str, tmp_path: Path) -> str:
    """Run `commands` (sh) against a user manager that has these services (name: unit text, drop-in); stdout."""
    unit_dir = tmp_path / "units"
    for name, (unit, drop_in) in units.items():
        (unit_dir / f"{name}.service.d").mkdir(parents=True, exist_ok=True)
        (unit_dir / f"{name}.service").write_text(unit)
        shutil.copy(drop_in, unit_dir / f"{name}.service.d" / "seccomp-learn.conf")
    r = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--propagation", "private", "sh", "-c",
                        SYSTEMD_USER + commands, "sh", str(unit_dir)], capture_output=True, text=True, timeout=60,
                       check=False)
    shutil.rmtree(unit_dir)
    assert r.stdout, r
    return r.stdout


def _under_systemd(drop_in: Path, workdir: Path) -> tuple[str, str, str]:
    """WORKLOAD run as a systemd service with the drop-in: the unit's Result, its stdout and its stderr."""
    for name in ("stdout", "stderr", "out.txt"):  # file: appends to what is there
        (workdir / name).unlink(missing_ok=True)
    unit = (f"[Service]\nType=oneshot\nWorkingDirectory={workdir}\n"
            "ExecStart=/bin/sh -c 'echo hi > out.txt; cat out.txt'\n"  # WORKLOAD, as ExecStart= quotes it
            f"StandardOutput=file:{workdir}/stdout\nStandardError=file:{workdir}/stderr\n")
    out = _systemd_user({"sl-demo": (unit, drop_in)}, "systemctl --user start sl-demo.service\n"
                        "systemctl --user show -p Result --value sl-demo.service\n", workdir)
    return out.strip(), (workdir / "stdout").read_text(), (workdir / "stderr").read_text()


@needs_systemd
def test_a_real_systemd_runs_the_unit_with_the_drop_in(tmp_path: Path) -> None:
    """systemd gives a service no PWD, so dash calls getcwd(): learned with the shell's PWD, the drop-in lacks
    it (systemd denies it, dash says so on stderr); learned with the environment systemd gives, it holds."""
    env = {k: v for k, v in os.environ.items() if k != "PWD"}
    for name, learn_env in (("shell", {**os.environ, "PWD": str(tmp_path)}), ("service", env)):
        rec = tmp_path / f"{name}.trace.json"
        r = seccomp_learn("record", "-q", "-o", str(rec), "--", *WORKLOAD, cwd=tmp_path, env=learn_env)
        assert r.returncode == 0, r.stderr
        r = seccomp_learn("emit", "-q", "--format", "systemd", str(rec), "-o", str(tmp_path / f"{name}.conf"))
        assert r.returncode == 0, r.stderr
    result, out, err = _under_systemd(tmp_path / "shell.conf", tmp_path)
    assert (result, out) == ("success", "hi\n") and "getcwd() failed: Operation not permitted" in err, err
    assert _under_systemd(tmp_path / "service.conf", tmp_path) == ("success", "hi\n", "")
    cut = tmp_path / "no-openat.conf"
    cut.write_text(re.sub(r"([ =])openat(?=[ \n])", r"\1", (tmp_path / "service.conf").read_text()))
    result, out, _ = _under_systemd(cut, tmp_path)
    assert (result, out) == ("exit-code", ""), (result, out)


# systemd's architecture names; none listed: systemd filters every arch the host runs
SCMP = {"native": "SCMP_ARCH_X86_64", "x86-64": "SCMP_ARCH_X86_64", "x86": "SCMP_ARCH_X86", "x32": "SCMP_ARCH_X32"}
DROP_INS = {  # what systemd.exec(5) says about merging: a "~" line after an allow list removes, "" resets
    "allow-then-remove": "[Service]\nSystemCallFilter=read write openat\nSystemCallFilter=~write\n",
    "deny-list": "[Service]\nSystemCallFilter=~@mount ptrace\nSystemCallErrorNumber=EACCES\n",
    "deny-then-allow": "[Service]\nSystemCallFilter=~@mount ptrace\nSystemCallFilter=mount\n",
    "reset": "[Service]\nSystemCallFilter=read\nSystemCallFilter=\nSystemCallFilter=@sync\n"
             "SystemCallErrorNumber=EPERM\nSystemCallArchitectures=native x86\n",
}


@needs_systemd
def test_drop_ins_read_as_systemd_resolves_them(tmp_path: Path) -> None:
    """systemd's own resolution of each drop-in (`systemctl show`, from a real manager) against the reader's."""
    confs = []
    for name, text in DROP_INS.items():
        confs.append(tmp_path / f"{name}.conf")
        confs[-1].write_text(text)
    show = "".join(f"systemctl --user show -p SystemCallFilter -p SystemCallErrorNumber -p SystemCallArchitectures "
                   f"{c.stem}.service; echo\n" for c in confs)
    out = _systemd_user({c.stem: ("[Service]\nExecStart=/bin/true\n", c) for c in confs}, show, tmp_path)
    shown = [dict(line.split("=", 1) for line in block.splitlines()) for block in out.strip().split("\n\n")]
    assert len(shown) == len(confs), out
    for conf, settings in zip(confs, shown, strict=True):
        words = settings["SystemCallFilter"]
        deny, names = words.startswith("~"), set(words.removeprefix("~").split())
        names = _x86_64(names, ("X86_64", "X86", "X32"))  # what libseccomp compiles here (not riscv's, ...)
        errno_ret = int(settings["SystemCallErrorNumber"])  # past 4095: none set, a denied call kills
        denied: dict[str, object] = {"action": "SCMP_ACT_ERRNO", "errnoRet": errno_ret} if errno_ret < 4096 else {
            "action": "SCMP_ACT_KILL_PROCESS"}
        rule: dict[str, object] = {"names": sorted(names), **(denied if deny else {"action": "SCMP_ACT_ALLOW"})}
        default = "SCMP_ACT_ALLOW" if deny else denied["action"]
        arches = [SCMP[a] for a in settings["SystemCallArchitectures"].split()] or list(SCMP.values())
        reference = {"defaultAction": default, "architectures": sorted(set(arches)), "syscalls": [rule]}
        if not deny and errno_ret < 4096:
            reference["defaultErrnoRet"] = errno_ret
        ref = tmp_path / f"{conf.stem}.systemd.json"
        ref.write_text(json.dumps(reference))
        added = {e["name"] for e in json.loads(seccomp_learn("diff", "--json", str(ref), str(conf)).stdout)["added"]}
        # systemd shows only what its libseccomp resolves; the reader keeps the names newer than it (uretprobe)
        assert added == added - _x86_64(added, ("X86_64", "X86", "X32")), (conf.stem, added)
        rule["names"] = sorted(names | added)
        ref.write_text(json.dumps(reference))
        r = seccomp_learn("diff", str(ref), str(conf))
        assert r.returncode == 0 and r.stdout.endswith("are identical: they allow the same syscalls under the same "
                                                       "conditions\n"), (conf.stem, r.stdout)


# ---- bubblewrap: the compiled filter -----------------------------------------------------------------------


def _without(learned: dict[str, Path], name: str, fmt: str, tmp_path: Path) -> bytes:
    """The workload's profile in `fmt` with `name` taken out of its recording."""
    rec = json.loads(learned["recording"].read_text())
    del rec["abis"]["x86_64"][name]
    cut = tmp_path / f"no-{name}.trace.json"
    cut.write_text(json.dumps(rec))
    return subprocess.run([*SL, "emit", "-q", "--format", fmt, str(cut), "-o", "-"], capture_output=True,
                          check=True).stdout


def _bwrap(bpf: bytes, argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """argv under `bwrap --seccomp FD` with this filter, the root read-only and cwd writable."""
    read, write = os.pipe()
    os.write(write, bpf)  # a filter is at most 32 KiB: it fits the pipe
    os.close(write)
    try:
        return subprocess.run(["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--bind", str(cwd), str(cwd),
                               "--chdir", str(cwd), "--seccomp", str(read), *argv], capture_output=True, text=True,
                              pass_fds=(read,), timeout=60)
    finally:
        os.close(read)


@needs_bwrap
def test_bpf_holds_under_bwrap_and_removing_openat_breaks_it(learned: dict[str, Path], tmp_path: Path) -> None:
    plain = subprocess.run(WORKLOAD, capture_output=True, text=True, cwd=tmp_path, check=False)
    (tmp_path / "out.txt").unlink()
    under = _bwrap(learned["bpf"].read_bytes(), WORKLOAD, tmp_path)
    assert (under.returncode, under.stdout) == (plain.returncode, plain.stdout) == (0, "hi\n"), under.stderr
    without = _bwrap(_without(learned, "openat", "bpf", tmp_path), WORKLOAD, tmp_path)  # opens out.txt
    assert without.returncode != 0 and without.stdout == "", without


@needs_bwrap
def test_bpf_filters_i386_calls_when_they_were_seen(int80: tuple[Path, Path], tmp_path: Path) -> None:
    program, rec = int80
    bpf = subprocess.run([*SL, "emit", "-q", "--format", "bpf", str(rec), "-o", "-"], capture_output=True,
                         check=True).stdout
    r = _bwrap(bpf, [str(program)], tmp_path)
    assert (r.returncode, r.stdout) == (0, "int80\n"), r.stderr
    native_only = json.loads(rec.read_text())
    del native_only["abis"]["i386"]
    cut = tmp_path / "native.trace.json"
    cut.write_text(json.dumps(native_only))
    bpf = subprocess.run([*SL, "emit", "-q", "--format", "bpf", str(cut), "-o", "-"], capture_output=True,
                         check=True).stdout
    r = _bwrap(bpf, [str(program)], tmp_path)
    assert (r.returncode, r.stdout) == (128 + signal.SIGSYS, ""), r  # i386 is not in this filter: killed


def test_bpf_bytes_are_deterministic_and_pfc_shows_the_arches(learned: dict[str, Path], tmp_path: Path) -> None:
    again = tmp_path / "again.bpf"
    r = seccomp_learn("emit", "-q", "--format", "bpf", str(learned["recording"]), "-o", str(again))
    assert r.returncode == 0 and again.read_bytes() == learned["bpf"].read_bytes(), r.stderr
    assert len(again.read_bytes()) % 8 == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["again.bpf"]
    pfc = learned["pfc"].read_text()
    assert "# filter for arch x86_64 " in pfc and "arch x86 " not in pfc
    r = seccomp_learn("emit", "-q", "--format", "pfc", "--arch", "x86_64,x86", str(learned["recording"]), "-o", "-")
    assert "# filter for arch x86_64 " in r.stdout and "# filter for arch x86 " in r.stdout, r.stdout


# ---- firejail ------------------------------------------------------------------------------------------------


def _firejail(options: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["firejail", "--quiet", *options, *WORKLOAD], capture_output=True, text=True, cwd=cwd,
                          timeout=60, check=False)


@needs_firejail
def test_firejail_keep_list_and_profile_hold(learned: dict[str, Path], tmp_path: Path) -> None:
    text = learned["firejail"].read_text()
    keep = re.findall(r"^seccomp\.keep (\S+)$", text, re.M)
    assert len(keep) == 1 and set(keep[0].split(",")) == _allowed_json(learned["docker"])
    assert "seccomp.block-secondary" in text.splitlines() and "seccomp-error-action EPERM" in text.splitlines()
    for options in (["--noprofile", f"--seccomp.keep={keep[0]}"], [f"--profile={learned['firejail']}"]):
        r = _firejail(options, tmp_path)
        assert (r.returncode, r.stdout) == (0, "hi\n"), (options, r.stderr)
        (tmp_path / "out.txt").unlink()
    cut = tmp_path / "no-openat.profile"
    cut.write_bytes(_without(learned, "openat", "firejail", tmp_path))
    r = _firejail([f"--profile={cut}"], tmp_path)
    assert r.returncode != 0 and r.stdout == "", r


# ---- read back: lint, diff, report, verify on the sandboxes' files -------------------------------------------


def _x86_64(names: set[str], arches: tuple[str, ...] = ("X86_64",)) -> set[str]:
    """The names libseccomp resolves on x86_64 (or on any of `arches`): its own tables, not the project's."""
    import pyseccomp

    def known(name: str, arch: str) -> bool:
        try:
            return pyseccomp.resolve_syscall(getattr(pyseccomp.Arch, arch), name) >= 0
        except ValueError:
            return False

    return {n for n in names if any(known(n, arch) for arch in arches)}


def _added(old: Path, new: Path) -> set[str]:
    r = seccomp_learn("diff", "--json", str(old), str(new))
    assert r.returncode in (0, 1), r.stderr
    return {e["name"] for e in json.loads(r.stdout)["added"]}


@needs_systemd_analyze
def test_drop_in_reads_back_as_systemd_applies_it(learned: dict[str, Path]) -> None:
    text = subprocess.run(["systemd-analyze", "syscall-filter", "@default", "--no-pager"], capture_output=True,
                          text=True, check=True).stdout
    default = {w.strip() for w in text.splitlines()[1:] if w.strip() and not w.strip().startswith(("#", "@"))}
    listed, on_x86_64 = _allowed_json(learned["docker"]), _x86_64(default)
    unresolved = default - on_x86_64  # other arches' names, and names newer than this libseccomp (uretprobe)
    assert _added(learned["docker"], learned["systemd"]) - unresolved == on_x86_64 - listed  # @default comes along
    r = seccomp_learn("lint", str(learned["systemd"]))
    assert (r.returncode, r.stdout) == (0, f"{learned['systemd']}: no findings\n"), r
    r = seccomp_learn("diff", "--json", str(learned["systemd"]))  # against systemd's own default
    data = json.loads(r.stdout)
    assert r.returncode == 0 and data["baseline"]["path"] == "systemd" and data["blocked"] == [], r.stderr
    assert "@system-service" in data["baseline"]["description"]
    report = json.loads(seccomp_learn("report", "--format", "json", str(learned["systemd"])).stdout)
    assert {e["name"] for e in report["syscalls"]} - unresolved == listed | on_x86_64


@needs_firejail
def test_firejail_profile_reads_back_with_what_firejail_adds(learned: dict[str, Path], tmp_path: Path) -> None:
    listed = _allowed_json(learned["docker"])
    assert _added(learned["docker"], learned["firejail"]) == {"prctl", "execve", "execveat"} - listed  # firejail(1)
    r = seccomp_learn("diff", "--json", str(learned["firejail"]))
    data = json.loads(r.stdout)
    assert r.returncode == 0 and data["baseline"]["path"] == "firejail" and data["blocked"] == [], r.stderr
    # firejail's default filter denies mount and ptrace (firejail(1), and its fsec-print of the filter)
    profile = json.loads(learned["docker"].read_text())
    profile["syscalls"].append({"names": ["mount", "ptrace"], "action": "SCMP_ACT_ALLOW"})
    wider = tmp_path / "wider.json"
    wider.write_text(json.dumps(profile))
    r = seccomp_learn("diff", "--json", "--baseline", "firejail", str(wider))
    assert {e["name"] for e in json.loads(r.stdout)["blocked"]} == {"mount", "ptrace"}, r.stderr


def _firejail_filter(profile: Path, tmp_path: Path) -> str:
    """The filters firejail builds for a profile, as its own --seccomp.print shows them for a live sandbox."""
    name = f"seccomp-learn-test-{os.getpid()}"
    sandbox = subprocess.Popen(["firejail", "--quiet", f"--name={name}", f"--profile={profile}", "sh", "-c", "read x"],
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               cwd=tmp_path)
    try:
        for _ in range(50):  # the sandbox is up within a second
            shown = subprocess.run(["firejail", f"--seccomp.print={name}"], capture_output=True, text=True,
                                   timeout=30, check=False).stdout
            if "FILE:" in shown:
                return shown
            time.sleep(0.1)
        raise AssertionError(f"firejail --seccomp.print={name} showed no filter")
    finally:
        sandbox.communicate(b"\n", timeout=30)


@needs_firejail
def test_firejail_profile_reads_back_as_firejail_builds_it(learned: dict[str, Path], tmp_path: Path) -> None:
    shown = _firejail_filter(learned["firejail"], tmp_path)
    keep = shown.split("FILE: /run/firejail/mnt/seccomp/seccomp\n", 1)[1].split("\n\n", 1)[0]
    allow = {m[1] for m in re.finditer(r"^ (\w{4}): 06 .* ret ALLOW$", keep, re.M)}
    built = {m[1] for m in re.finditer(r" jeq (\w+) (\w{4}) ", keep) if m[2] in allow}
    assert "FILE: /run/firejail/mnt/seccomp/seccomp.block_secondary" in shown  # the 32-bit ABI is refused
    report = json.loads(seccomp_learn("report", "--format", "json", str(learned["firejail"])).stdout)
    assert {e["name"] for e in report["syscalls"]} == built and {"prctl", "execveat"} <= built


@pytest.mark.parametrize("fmt", ["systemd", "firejail"])
def test_verify_enforces_a_sandbox_file(fmt: str, learned: dict[str, Path], tmp_path: Path) -> None:
    r = seccomp_learn("verify", str(learned[fmt]), "--", *WORKLOAD, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "hi\n", r.stderr
    cut = tmp_path / f"no-openat.{fmt}"
    cut.write_text(re.sub(r"([ =,])openat(?=[ ,\n])", r"\1", learned[fmt].read_text()))
    r = seccomp_learn("verify", str(cut), "--", *WORKLOAD, cwd=tmp_path)
    denied = {line.split()[3] for line in r.stderr.splitlines() if line.startswith("seccomp-learn: denied: ")}
    assert r.returncode == 1 and "openat" in denied, r.stderr


BAD = {
    "systemd-group": "[Service]\nSystemCallFilter=read @no-such-group\n",
    "systemd-no-filter": "[Service]\nExecStart=/bin/true\n",
    "systemd-outside": "SystemCallFilter=read\n[Service]\n",
    "systemd-arch": "[Service]\nSystemCallArchitectures=vax\nSystemCallFilter=read\n",
    "firejail-name": "seccomp.keep read,write,../x\n",
    "firejail-action": "seccomp.keep read\nseccomp-error-action EWHATEVER\n",
}
BAD_CASES = [(cmd, case) for cmd in sorted(PROFILE_COMMANDS) for case in ("systemd-group", "firejail-name")]
BAD_CASES += [("lint", case) for case in sorted(BAD) if case not in ("systemd-group", "firejail-name")]


@pytest.mark.parametrize(("cmd", "case"), BAD_CASES)
def test_bad_sandbox_file_is_one_line_exit_2(cmd: str, case: str, tmp_path: Path) -> None:
    if case.startswith("systemd") and shutil.which("systemd-analyze") is None and not os.environ.get("CI"):
        pytest.skip("no systemd-analyze")
    bad = tmp_path / "bad.conf"
    bad.write_text(BAD[case])
    assert_refused(cmd, bad, tmp_path)


# ---- learning inside bwrap ------------------------------------------------------------------------------------

MKDIR = ["sh", "-c", "mkdir -p d/e"]
SETUP = {"mount", "pivot_root", "umount2", "capset"}  # bwrap's own set-up, before it loads the filter


def _box(tmp_path: Path, name: str) -> tuple[Path, list[str]]:
    box = tmp_path / name
    box.mkdir()
    return box, ["bwrap", "--ro-bind", "/", "/", "--bind", str(box), str(box), "--chdir", str(box)]


@needs_bwrap
def test_learned_inside_bwrap_holds_there_and_leaves_bwrap_out(tmp_path: Path) -> None:
    box, bwrap = _box(tmp_path, "learn")
    strace = subprocess.run(["strace", "-f", "-qq", "-o", str(tmp_path / "ref.strace"), *bwrap, "true"],
                            capture_output=True, text=True, timeout=60, check=False)
    seen = set(re.findall(r"^\d+ +(\w+)\(", (tmp_path / "ref.strace").read_text(), re.M))
    assert strace.returncode == 0 and seen >= SETUP, (strace.stderr, seen)  # what bwrap itself does
    inside, rec = tmp_path / "inside.bpf", tmp_path / "inside.trace.json"
    r = seccomp_learn("-q", "--format", "bpf", "-o", str(inside), "--record", str(rec), "--", *bwrap, *MKDIR)
    assert r.returncode == 0 and (box / "d" / "e").is_dir(), r.stderr
    names = set(json.loads(rec.read_text())["abis"]["x86_64"])
    assert {"execve", "mkdir", "fchdir"} <= names and not names & SETUP, names
    fresh, _ = _box(tmp_path, "run")
    r = _bwrap(inside.read_bytes(), MKDIR, fresh)
    assert r.returncode == 0 and (fresh / "d" / "e").is_dir(), r.stderr


@needs_bwrap
def test_host_learned_mkdir_fails_under_bwrap_where_the_bwrap_learned_one_holds(tmp_path: Path) -> None:
    """The issue's case: learned on the host where d/e already exists (a second run), mkdir -p makes no fchdir;
    in the sandbox's fresh directory it does, and the host profile refuses it."""
    host = tmp_path / "host"
    (host / "d" / "e").mkdir(parents=True)
    r = seccomp_learn("-q", "--format", "bpf", "-o", str(tmp_path / "host.bpf"), "--", *MKDIR, cwd=host)
    assert r.returncode == 0, r.stderr
    _, bwrap = _box(tmp_path, "learn")
    r = seccomp_learn("-q", "--format", "bpf", "-o", str(tmp_path / "inside.bpf"), "--", *bwrap, *MKDIR)
    assert r.returncode == 0, r.stderr
    for learned_where, holds in (("host", False), ("inside", True)):
        fresh, _ = _box(tmp_path, f"run-{learned_where}")
        r = _bwrap((tmp_path / f"{learned_where}.bpf").read_bytes(), MKDIR, fresh)
        assert (r.returncode == 0, (fresh / "d" / "e").is_dir()) == (holds, holds), (learned_where, r.stderr)


def test_learning_inside_bwrap_refuses_a_filter_of_its_own(tmp_path: Path) -> None:
    r = seccomp_learn("-q", "-o", str(tmp_path / "p.json"), "--", "bwrap", "--seccomp", "3", "--ro-bind", "/", "/",
                      "true")
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "--seccomp" in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == []
