"""One learning run on amd64, a profile for amd64 and arm64 hosts, checked against real arm64 programs.

The reference is qemu-user (tests/qemu_ref.py): the arm64 build of the same Debian program, run with
the same arguments on the same files, under `qemu-aarch64-static -strace`. The profile learned from the
amd64 build with `--arch x86_64,aarch64` is read as Docker reads it on an arm64 host (archMap), compiled
by libseccomp for aarch64, and every call qemu saw must be allowed by that compiled filter. Neither side
is the project's own tables: the names come from qemu, the numbers and the filter from libseccomp.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
from helpers import REPO_ROOT, seccomp_learn
from qemu_ref import (
    CLONE_FLAGS,
    VDSO,
    QemuError,
    aarch64_number,
    arm64_sysroot,
    clone_flags,
    qemu_binary,
    qemu_syscalls,
)
from test_diff import BASELINE_SCHEMA

from tracer.baseline.profile_file import load_profile_file
from tracer.kernel.seccomp_filter import compile_profile
from tracer.profile.seccomp_json import Profile
from tracer.syscalls.abi import ABI_OF_SCMP
from tracer.syscalls.names import is_known

IN_CI = os.environ.get("CI") == "true"
ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": "/nonexistent", "TZ": "UTC"}
LEARN_ENV = {**ENV, "PYTHONPATH": str(REPO_ROOT)}  # this checkout's tracer, whatever cwd is
PY = ("import os, select, signal, socket\n"
      "os.mkdir('d'); os.mkdir('d/e'); os.rmdir('d/e')\n"
      "open('d/f', 'w').write('x'); os.rename('d/f', 'd/g'); os.link('d/g', 'd/h'); os.symlink('g', 'd/l')\n"
      "assert os.readlink('d/l') == 'g'; os.chmod('d/g', 0o600); os.chown('d/g', os.getuid(), -1)\n"
      "assert os.access('d/g', os.R_OK); os.stat('d/g'); os.lstat('d/l'); os.utime('d/g', (1, 2))\n"
      "os.mkfifo('d/p'); os.listdir('d'); os.getpgrp()\n"
      "r, w = os.pipe(); os.dup2(w, 9); os.write(9, b'y'); select.select([r], [], [], 1); p = select.poll()\n"
      "p.register(r); p.poll(100); e = select.epoll(); e.register(r); e.poll(0.1)\n"
      "a, b = socket.socketpair(); a.send(b'z'); b.recv(1); socket.socket(socket.AF_INET).close()\n"
      "pid = os.fork()\n"
      # The parent waits for the child to be gone before wait4: qemu prints a blocking call's entry and the
      # other task's lines into one another, byte by byte, which can cut a name in two.
      "os._exit(0) if pid == 0 else (select.select([], [], [], 0.3), os.waitpid(pid, 0))\n"
      "signal.signal(signal.SIGALRM, lambda *a: None); signal.alarm(1); signal.pause()\n"
      "for n in os.listdir('d'): os.unlink('d/' + n)\n"
      "os.rmdir('d')\n")
BUSYBOX_FILES = ("mkdir -p a/b/c && echo hello > a/f && cp a/f a/b/g && ln -s f a/l && ln a/f a/h && readlink a/l && "
                 "cat a/b/g && ls -lan a >/dev/null && mv a/h a/i && chmod 600 a/i && touch a/b/c/t && "
                 "find a -type f | sort && rm -rf a")
BUSYBOX_ARCHIVE = ("tar cf - src | gzip -9 > s.tgz && mkdir out && gunzip -c s.tgz | tar xf - -C out && "
                   "cmp src/one out/src/one && bzip2 -k src/one && bunzip2 -c src/one.bz2 | wc -c")
SQL = "create table t(a, b); insert into t values (1, 'x'), (2, 'y'); create index i on t(b); select count(*) from t;"


@dataclass(frozen=True)
class Workload:
    program: str  # the same path on amd64 (this host) and inside the arm64 sysroot
    args: tuple[str, ...]

    def args_on_host(self) -> tuple[str, ...]:
        return (self.program, *self.args)


WORKLOADS = {
    "busybox-sh-files": Workload("/bin/busybox", ("sh", "-c", BUSYBOX_FILES)),
    "busybox-sh-archive": Workload("/bin/busybox", ("sh", "-c", BUSYBOX_ARCHIVE)),
    "coreutils-cp": Workload("/bin/cp", ("-a", "src", "copy")),
    "coreutils-ls": Workload("/bin/ls", ("-lanR", "--color=never", "src")),
    "dash-script": Workload("/bin/dash", ("-c", "i=0; while [ $i -lt 3 ]; do echo $i > f$i; i=$((i+1)); done; "
                                                 "read x < f1; exec 3>g; echo $x >&3; (echo sub) | read y; "
                                                 "cd src; pwd; umask 077; set -- *; echo $#")),
    "python3-os": Workload("/usr/bin/python3.11", ("-I", "-S", "-c", PY)),
    "sqlite3": Workload("/usr/bin/sqlite3", ("db.sqlite", SQL)),
    "xz-threads": Workload("/usr/bin/xz", ("-T2", "-k", "-6", "src/big")),
}


@pytest.fixture(scope="session")
def sysroot() -> Path:
    """The arm64 packages; in CI a missing qemu or a failed download fails the tests instead of skipping."""
    try:
        qemu_binary()
        return arm64_sysroot()
    except (QemuError, OSError) as exc:
        if IN_CI:
            pytest.fail(f"arm64 reference unavailable in CI: {exc}")
        pytest.skip(f"arm64 reference unavailable: {exc}")


def _workdir(path: Path) -> Path:
    """The same input tree for both builds."""
    src = path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "one").write_text("one\n" * 100)
    (src / "sub" / "two").write_text("two\n")
    (src / "big").write_bytes(bytes(range(256)) * 4096)
    os.symlink("one", src / "link")
    return path


def _number(scmp_arch: str, name: str) -> int:
    import pyseccomp

    return int(pyseccomp.resolve_syscall(getattr(pyseccomp.Arch, scmp_arch.removeprefix("SCMP_ARCH_")), name))


def _pfc_text(profile: Profile) -> str:
    compiled = compile_profile(profile)
    assert compiled.skipped == [], f"libseccomp could not add {compiled.skipped}"
    with tempfile.TemporaryFile("w+") as fh:
        compiled.filter.export_pfc(fh)
        fh.seek(0)
        return fh.read()


def _arch_section(text: str, scmp_arch: str) -> list[str]:
    arch_nr = {"SCMP_ARCH_AARCH64": 3221225655, "SCMP_ARCH_X86_64": 3221225534}[scmp_arch]
    return text.split(f"if ($arch == {arch_nr})", 1)[1].split("if ($arch ==", 1)[0].splitlines()


_COND = re.compile(r"if \(\$a(?P<i>\d)\.(?P<half>hi32|lo32)(?: & (?P<mask>0x[0-9a-f]+))? "
                   r"(?P<op>==|>=|>) (?P<v>\d+|0x[0-9a-f]+)\)")


def _pfc_allows(section: list[str], nr: int, a0: int) -> bool:
    """Whether libseccomp's pseudo filter code for one arch allows syscall nr with first argument a0 (the
    rules here test only argument 0; any other form of line fails the test rather than being guessed)."""
    start = next(i for i, line in enumerate(section) if line.strip() == f"if ($syscall == {nr})")
    depth = len(section[start]) - len(section[start].lstrip())
    skip_deeper = None
    for line in section[start + 1:]:
        indent = len(line) - len(line.lstrip())
        if indent <= depth:
            return False
        if skip_deeper is not None and indent > skip_deeper:
            continue
        skip_deeper = None
        text = line.strip()
        if text == "action ALLOW;":
            return True
        if text.startswith("action "):
            return False
        m = _COND.fullmatch(text)
        assert m and m["i"] == "0", f"pseudo filter code this test cannot read: {text!r}"
        half = a0 >> 32 if m["half"] == "hi32" else a0 & 0xFFFFFFFF
        value = half & int(m["mask"], 16) if m["mask"] else half
        want = int(m["v"], 0)
        if not {"==": value == want, ">=": value >= want, ">": value > want}[m["op"]]:
            skip_deeper = indent
    return False


def _errno_on(profile: Profile, scmp_arch: str, errno: int) -> set[int]:
    """Syscall numbers the compiled filter answers with ERRNO(errno) unconditionally on scmp_arch."""
    out, current = set(), None
    for line in _arch_section(_pfc_text(profile), scmp_arch):
        m = re.match(r"  if \(\$syscall == (\d+)\)$", line)
        if m:
            current = int(m[1])
        elif current is not None and line.strip() == f"action ERRNO({errno});" and line.startswith("    action"):
            out.add(current)
    return out


def _allowed_on(profile: Profile, scmp_arch: str) -> set[int]:
    """Syscall numbers the libseccomp-compiled filter allows (under any condition) on scmp_arch. A name the arch
    lacks compiles to a pseudo number (a negative int as u32) that no real call has, so those are left out."""
    allowed, current = set(), None
    for line in _arch_section(_pfc_text(profile), scmp_arch):
        m = re.match(r"\s*if \(\$syscall == (\d+)\)", line)
        if m:
            current = int(m[1]) if int(m[1]) < 1 << 31 else None
        elif current is not None and "action ALLOW" in line:
            allowed.add(current)
    return allowed


def _learn(workload: Workload, cwd: Path, out: Path) -> tuple[Path, Path]:
    profile, recording = out / "profile.json", out / "trace.json"
    proc = seccomp_learn("--arch", "x86_64,aarch64", "--runtime", "none", "-q", "-o", str(profile), "--record",
                         str(recording), "--", workload.program, *workload.args, cwd=cwd, env=LEARN_ENV)
    assert proc.returncode == 0, proc.stderr
    return profile, recording


RESULTS: dict[str, dict[str, object]] = {}


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_amd64_profile_allows_what_the_arm64_build_calls(name, sysroot, tmp_path):
    workload = WORKLOADS[name]
    if not Path(workload.program).exists():
        pytest.fail(f"{workload.program} (amd64) is not installed") if IN_CI else pytest.skip(workload.program)
    amd = _workdir(tmp_path / "amd64")
    arm = _workdir(tmp_path / "arm64")
    profile_path, _ = _learn(workload, amd, tmp_path)
    first: dict[str, set[str]] = {}
    seen, status = qemu_syscalls([str(sysroot / workload.program.lstrip("/")), *workload.args], sysroot, cwd=arm,
                                 env=ENV, first_args=first)
    assert status == 0, f"the arm64 build failed under qemu ({status})"

    arm64_host = load_profile_file(profile_path, arch="arm64")
    assert arm64_host.architectures == ["SCMP_ARCH_AARCH64"]
    allowed = _allowed_on(arm64_host, "SCMP_ARCH_AARCH64")
    missing = sorted(n for n in set(seen) - VDSO if aarch64_number(n) not in allowed)
    doc = json.loads(profile_path.read_text())
    mapped = {n for r in doc["syscalls"] if r.get("comment", "").startswith("mapped for aarch64") for n in r["names"]}
    names = {n for r in doc["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    RESULTS[name] = {"x86_64": sum(is_known("x86_64", n) for n in names),
                     "aarch64": sum(is_known("aarch64", n) for n in names), "mapped": len(mapped),
                     "qemu": len(seen), "vdso": sorted(set(seen) & VDSO), "missing": missing}
    assert missing == [], f"the arm64 build called {missing}, which the profile does not allow on aarch64"
    # the profile of issue 13 (SCMP_ARCH_AARCH64 listed, nothing mapped) fails the same check
    unmapped = Profile(arm64_host.default_action, arm64_host.default_errno_ret, arm64_host.architectures,
                       [r for r in arm64_host.syscalls if not r.comment.startswith("mapped for")])
    lost = {n for n in set(seen) - VDSO if aarch64_number(n) not in _allowed_on(unmapped, "SCMP_ARCH_AARCH64")}
    RESULTS[name]["denied without mapping"] = sorted(lost)
    assert lost == set(seen) & mapped, "the mapped names qemu saw are exactly what the unmapped profile lacks"
    # argument rules carried over: clone's flags (mapped from fork, vfork and clone3 too) and prctl's option
    section = _arch_section(_pfc_text(arm64_host), "SCMP_ARCH_AARCH64")
    calls = [("clone", f) for f in map(clone_flags, first.get("clone", ())) if f is not None]
    calls += [("prctl", int(a)) for a in first.get("prctl", ()) if a.isdigit()]
    refused = [f"{n}({a0:#x})" for n, a0 in calls if not _pfc_allows(section, aarch64_number(n), a0)]
    RESULTS[name]["clone/prctl first arguments checked"] = len(calls)
    print(f"{name}: {RESULTS[name]}")
    assert refused == [], f"the arm64 build made {refused}, which the aarch64 filter refuses"
    if "clone" in first:  # and the carried rule still refuses a new namespace
        assert not _pfc_allows(section, aarch64_number("clone"), CLONE_FLAGS["CLONE_NEWUSER"] | 17)


def test_profile_compiles_for_both_arches_and_names_what_each_lacks(sysroot, tmp_path):
    """Every name resolves with libseccomp on at least one listed arch; those it cannot resolve on one arch are
    reported per arch, and they are exactly the names that arch's kernel table lacks."""
    profile_path, _ = _learn(WORKLOADS["python3-os"], _workdir(tmp_path / "w"), tmp_path)
    oci = Profile(architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
                  syscalls=load_profile_file(profile_path).syscalls)
    compiled = compile_profile(oci)
    assert compiled.skipped == []

    names = sorted(oci.names())
    lacking = {arch: sorted(n for n in names if _number(arch, n) < 0) for arch in oci.architectures}
    print(f"names libseccomp cannot resolve, per arch: {lacking}")
    for arch, absent in lacking.items():
        assert absent == sorted(n for n in names if not is_known(ABI_OF_SCMP[arch], n)), arch
    assert not set(lacking["SCMP_ARCH_X86_64"]) & set(lacking["SCMP_ARCH_AARCH64"])
    assert "mkdir" in lacking["SCMP_ARCH_AARCH64"] and "mkdirat" not in lacking["SCMP_ARCH_AARCH64"]


@pytest.mark.parametrize("fmt", ["docker", "oci"])
def test_diff_and_report_say_what_each_host_allows(fmt, tmp_path):
    """The per-host views agree with the filter libseccomp compiles for each host's arch, and name what was mapped."""
    work = _workdir(tmp_path / "w")
    profile_path = tmp_path / f"p.{fmt}.json"
    proc = seccomp_learn("--arch", "x86_64,aarch64", "--runtime", "none", "-q", "--format", fmt, "-o",
                         str(profile_path), "--", *WORKLOADS["python3-os"].args_on_host(), cwd=work, env=LEARN_ENV)
    assert proc.returncode == 0, proc.stderr
    diff = json.loads(seccomp_learn("diff", "--json", str(profile_path), env=LEARN_ENV).stdout)
    jsonschema.validate(diff, BASELINE_SCHEMA)
    report = json.loads(seccomp_learn("report", "--format", "json", str(profile_path), env=LEARN_ENV).stdout)
    assert report["hosts"] == diff["hosts"]
    hosts = {h["abi"]: h for h in diff["hosts"]}
    assert list(hosts) == ["x86_64", "aarch64"]
    for abi, scmp, native in (("x86_64", "SCMP_ARCH_X86_64", "amd64"), ("aarch64", "SCMP_ARCH_AARCH64", "arm64")):
        host_profile = load_profile_file(profile_path, arch=native) if fmt == "docker" else \
            Profile(architectures=[scmp], syscalls=load_profile_file(profile_path).syscalls)
        assert hosts[abi]["architectures"] == [scmp]
        assert {_number(scmp, n) for n in hosts[abi]["allowed"]} == _allowed_on(host_profile, scmp), abi
        assert all(_number(scmp, n) < 0 for n in hosts[abi]["absent"])
    assert {"mkdir", "rename", "dup2", "arch_prctl"} <= set(hosts["aarch64"]["absent"])
    assert hosts["x86_64"]["absent"] == []
    mapped = {m["name"]: m for m in hosts["aarch64"]["mapped"]}
    if fmt == "oci":  # no comments in OCI JSON: nothing says what was mapped
        assert mapped == {}
        return
    assert mapped["mkdirat"] == {"name": "mkdirat", "host": "aarch64", "source": "x86_64", "from_names": ["mkdir"]}
    assert mapped["unlinkat"]["from_names"] == ["rmdir", "unlink"]
    assert {"dup3", "renameat", "ppoll"} <= set(mapped)
    text = seccomp_learn("diff", str(profile_path), env=LEARN_ENV).stdout
    assert "Per host" in text and "mkdirat<-x86_64 mkdir" in text


# glibc 2.36 retries these with the older call when the kernel (or a filter) answers ENOSYS.
GLIBC_FALLBACK = {"clone3": "clone", "faccessat2": "faccessat", "statx": "newfstatat"}
REVERSE = ("busybox-sh-files", "coreutils-cp", "dash-script", "python3-os", "xz-threads")


@pytest.mark.parametrize("name", REVERSE)
def test_arm64_recording_gives_what_the_amd64_build_calls(name, sysroot, tmp_path):
    """The reverse direction: a recording of the arm64 build (qemu's names) emitted with --arch x86_64,aarch64 must
    allow on amd64 every call strace sees the amd64 build make."""
    from strace_ref import strace_syscalls

    from tracer.recording import schema as rec_io
    workload = WORKLOADS[name]
    arm64_path = str(sysroot / workload.program.lstrip("/"))
    seen, status = qemu_syscalls([arm64_path, *workload.args], sysroot, cwd=_workdir(tmp_path / "arm64"), env=ENV)
    assert status == 0
    run = rec_io.Run(id="qemu", command=[workload.program, *workload.args], started="", duration_s=0.0,
                     exit={"code": 0})
    # seen as the tracer would record an arm64 run: names and counts, no argument values (so no argument rules)
    # qemu loads the program itself: the execve that starts it, which a tracer records, is not in its log
    rec = rec_io.Recording(tool="tests/qemu_ref.py", runs=[run], abis={"aarch64": {
        n: rec_io.SyscallStats(nr=aarch64_number(n), counts={"qemu": c}, executables={workload.program})
        for n, c in {**seen, "execve": 1}.items()}})
    rec_io.save(rec, tmp_path / "arm64.trace.json")
    profile_path = tmp_path / "p.json"
    proc = seccomp_learn("emit", str(tmp_path / "arm64.trace.json"), "--arch", "x86_64,aarch64", "--runtime", "none",
                         "-o", str(profile_path), env=LEARN_ENV)
    assert proc.returncode == 0, proc.stderr

    counts, status = strace_syscalls([workload.program, *workload.args], cwd=_workdir(tmp_path / "amd64"), env=ENV)
    assert status == 0
    amd64_host = load_profile_file(profile_path, arch="amd64")
    allowed = _allowed_on(amd64_host, "SCMP_ARCH_X86_64")
    called = {n for abi, n in counts if abi == "x86_64"}
    enosys = _errno_on(amd64_host, "SCMP_ARCH_X86_64", 38)
    # ENOSYS is an answer glibc takes for "use the older call": clone3 -> clone (allowed, flags checked)
    falls_back = {n for n in called if _number("SCMP_ARCH_X86_64", n) in enosys and n in GLIBC_FALLBACK
                  and _number("SCMP_ARCH_X86_64", GLIBC_FALLBACK[n]) in allowed}
    missing = sorted(n for n in called - falls_back if _number("SCMP_ARCH_X86_64", n) not in allowed)
    print(f"{name} (reverse): x86_64 allows {len(allowed)}, strace saw {len(called)}, missing {missing}")
    assert missing == [], f"the amd64 build called {missing}, which the profile learned from arm64 does not allow"
