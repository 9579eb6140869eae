"""`seccomp-learn audit` reads the kernel's seccomp records in every form users have them.

tests/data/audit/{dmesg,kmsg}.txt are lines this machine's kernel (6.18) printed: `dmesg` and `/dev/kmsg`
excerpts with type-1326 records (a kill, verify's reserved number, two logs) and printk's
`kauditd_printk_skb: N callbacks suppressed`. The other forms are built around records the kernel logs
during the test (read from the audit netlink group) as auditd, journald and the log enricher write them:
auditd's `type=SECCOMP msg=` + the record (node= prefix, ENRICHED fields after 0x1d), journald's audit
transport (`audit[PID]: SECCOMP ...`, export fields _AUDIT_TYPE/_AUDIT_ID/_SOURCE_REALTIME_TIMESTAMP, a
binary MESSAGE), the kernel transport (`journalctl -k -o export`), and security-profiles-operator's klog
and JSON lines (internal/pkg/daemon/enricher: "msg"="audit" ... "syscallID"= "syscallName"= "type"="seccomp").
"""

from __future__ import annotations

import json
import os
import re
import struct
from pathlib import Path

import pyseccomp as seccomp
import pytest

from tests.helpers import REPO_ROOT, seccomp_learn
from tracer.runtimes.audit import AuditLog, SeccompRecord

DATA = REPO_ROOT / "tests" / "data" / "audit"
CALLS = {"getppid": 3, "umask": 2}
_CALL_LINE = re.compile(r"^    (\S+) (\S+) x(\d+) ")


def _logged_child() -> int:
    """A child whose filter logs getppid and umask (libseccomp's, not the project's), called CALLS times."""
    pid = os.fork()
    if pid == 0:
        try:
            f = seccomp.SyscallFilter(seccomp.ALLOW)
            for name in CALLS:
                f.add_rule(seccomp.LOG, name)
            f.load()
            for _ in range(CALLS["getppid"]):
                os.getppid()
            for _ in range(CALLS["umask"]):
                os.umask(0o22)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    return pid


@pytest.fixture(scope="module")
def kernel_records(audit_log: AuditLog) -> tuple[int, list[SeccompRecord]]:
    pid = _logged_child()
    audit_log.sync()
    mine = [r for r in audit_log.records() if r.pid == pid]
    assert sorted(r.name for r in mine) == sorted(n for n, k in CALLS.items() for _ in range(k))
    return pid, mine


def _calls(stdout: str) -> dict[tuple[str, str], int]:
    return {(m.group(1), m.group(2)): int(m.group(3)) for m in map(_CALL_LINE.match, stdout.splitlines()) if m}


def _stamp(r: SeccompRecord) -> tuple[str, str, str]:
    """The record's time, serial and body ('audit(T:S): body')."""
    m = re.match(r"audit\((\d+\.\d+):(\d+)\): (.*)", r.text)
    assert m, r.text
    return m.group(1), m.group(2), m.group(3)


def _export_field(key: str, value: str, binary: bool = False) -> bytes:
    if not binary:
        return f"{key}={value}\n".encode()
    data = value.encode()
    return key.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"


def _forms(records: list[SeccompRecord]) -> dict[str, bytes]:
    auditd, enriched, dmesg, journal, spo_klog, spo_json = [], [], [], [], [], []
    export = b""
    for k, r in enumerate(records):
        t, serial, body = _stamp(r)
        auditd.append(f"type=SECCOMP msg={r.text}")
        enriched.append(f"node=web-1 type=SECCOMP msg={r.text}\x1dAUID=\"unset\" UID=\"root\" ARCH=x86_64 "
                        f"SYSCALL={r.name}")
        dmesg.append(f"[{1000 + k:5d}.000000] audit: type=1326 {r.text}")
        journal.append(f"2026-12-07T12:00:0{k % 10}+0000 host audit[{r.pid}]: SECCOMP {body}")
        usec = str(int(float(t) * 1e6))
        export += b"".join([_export_field("__CURSOR", f"s=1;i={2 * k}"), _export_field("__REALTIME_TIMESTAMP", usec),
                            _export_field("_TRANSPORT", "kernel"),
                            _export_field("MESSAGE", f"audit: type=1326 {r.text}")]) + b"\n"
        export += b"".join([_export_field("__CURSOR", f"s=1;i={2 * k + 1}"),
                            _export_field("__REALTIME_TIMESTAMP", usec), _export_field("_TRANSPORT", "audit"),
                            _export_field("_AUDIT_TYPE", "1326"), _export_field("_AUDIT_TYPE_NAME", "SECCOMP"),
                            _export_field("_AUDIT_ID", serial), _export_field("_SOURCE_REALTIME_TIMESTAMP", usec),
                            _export_field("MESSAGE", f"SECCOMP {body}", binary=k % 2 == 0)]) + b"\n"
        fields = {"msg": "audit", "container": "app", "executable": r.exe, "namespace": "shop", "node": "n1",
                  "pid": r.pid, "pod": "web-0", "syscallID": r.nr, "syscallName": r.name,
                  "timestamp": f"{t}:{serial}", "type": "seccomp"}
        spo_klog.append("I1207 12:00:00.000000 4242 enricher.go:445] log-enricher " + " ".join(
            f'"{key}"={json.dumps(value)}' for key, value in fields.items()))
        spo_json.append(json.dumps({"level": "info", "logger": "log-enricher", **fields}))
    spo_export = b"".join(b"".join([_export_field("__CURSOR", f"s=2;i={k}"),
                                    _export_field("__REALTIME_TIMESTAMP", "1796647400000000"),
                                    _export_field("_TRANSPORT", "stdout"), _export_field("MESSAGE", line)]) + b"\n"
                          for k, line in enumerate(spo_klog))
    text = {"auditd": auditd, "auditd-enriched": enriched, "dmesg": dmesg, "journal-audit": journal,
            "spo-klog": spo_klog, "spo-json": spo_json}
    return {**{name: "".join(f"{line}\n" for line in lines).encode() for name, lines in text.items()},
            "journal-export": export, "spo-journal-export": spo_export}


FORMS = ["auditd", "auditd-enriched", "dmesg", "journal-audit", "journal-export", "spo-klog", "spo-json",
         "spo-journal-export"]


@pytest.mark.parametrize("form", FORMS)
def test_each_form_gives_the_kernels_records(kernel_records: tuple[int, list[SeccompRecord]], tmp_path: Path,
                                             form: str) -> None:
    pid, records = kernel_records
    path = tmp_path / form
    noise = (b"__CURSOR=s=0;i=0\n__REALTIME_TIMESTAMP=1\n_TRANSPORT=kernel\nMESSAGE=eth0: link up\n\n"
             if "export" in form else b"unrelated line\ntype=SYSCALL msg=audit(1.0:1): arch=c000003e syscall=59\n")
    path.write_bytes(noise + _forms(records)[form])
    r = seccomp_learn("audit", "--pid", str(pid), str(path))
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
    assert _calls(r.stdout) == {("x86_64", name): n for name, n in CALLS.items()}, r.stdout
    if form == "journal-export":  # each record twice: the kernel's transport and journald's audit transport
        assert f"{len(records)} record(s) read twice" in r.stderr, r.stderr
    assert f"pid {pid} " in r.stdout and (records[0].exe in r.stdout)
    if form.startswith("spo"):  # the enricher names the container
        assert "container shop/web-0/app" in r.stdout
        assert seccomp_learn("audit", "--container", "app", str(path)).stdout == r.stdout


def test_the_kernels_own_log_lines(tmp_path: Path) -> None:
    """dmesg and /dev/kmsg text as this kernel printed it: a kill, an unnamed number, logs, a printk drop."""
    for name in ("dmesg.txt", "kmsg.txt"):
        r = seccomp_learn("audit", str(DATA / name))
        assert r.returncode == 0, r.stderr
        calls = _calls(r.stdout)
        assert calls[("x86_64", "getdents64")] == 1 and calls[("x86_64", "exit_group")] >= 1
        assert "getdents64 x1 kill_thread" in r.stdout and "exit_group x1 log" in r.stdout
        assert "no name in the tables, not added: x86_64#1073741569" in r.stderr
        drops = [line for line in r.stderr.splitlines() if "dropped audit records" in line]
        assert len(drops) == 1 and "callbacks suppressed" in drops[0], r.stderr
        assert "warning: 1 line(s) say the kernel dropped records" in r.stderr
        quiet = seccomp_learn("audit", "-q", str(DATA / name))
        assert "callbacks suppressed" in quiet.stderr  # never silenced


def test_rate_limit_lines_are_reported(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text("Dec  7 12:00:00 host kernel: audit: rate limit exceeded\n"
                   "Dec  7 12:00:00 host kernel: audit: audit_lost=5 audit_rate_limit=100 audit_backlog_limit=64\n"
                   "Dec  7 12:00:00 host kernel: net_ratelimit: 3 callbacks suppressed\n")
    r = seccomp_learn("audit", str(log))
    assert r.returncode == 0
    assert [line.split(": ", 3)[2] for line in r.stderr.splitlines() if "dropped audit records" in line] == [
        f"{log}:1", f"{log}:2"], r.stderr


MALFORMED = [
    "type=SECCOMP msg=audit(1796647379.797:1): auid=0 pid=19674 comm=\"ls\" arch=c000003e compat=0 code=0x0",
    "type=SECCOMP msg=audit(1796647379.797:1): pid=12 arch=zz syscall=1",
    "type=SECCOMP msg=audit(oops): pid=1 arch=c000003e syscall=1",
    "[  1.0] audit: type=1326 audit(1796647379.797:2): pid=x arch=c000003e syscall=1",
    "[  1.0] audit: type=1326 no stamp at all",
    "I1207 log-enricher \"msg\"=\"audit\" \"type\"=\"seccomp\" \"pid\"=12",
    "type=SECCOMP msg=audit(1796647379.797:1): pid=1 arch=c000003e syscall=" + "9" * 5000,
    "\udcff type=SECCOMP \x00\x01 garbage",
]


def test_malformed_lines_are_one_warning_each(tmp_path: Path) -> None:
    good = ("type=SECCOMP msg=audit(1796647379.797:9): pid=7 comm=\"sh\" exe=\"/bin/sh\" arch=c000003e syscall=95 "
            "code=0x7ffc0000")
    log = tmp_path / "audit.log"
    text = "\n".join([good, *MALFORMED, good[:60]]).encode("utf-8", "surrogateescape")
    log.write_bytes(text + b"\n" + b"\xff" * 70000)
    r = seccomp_learn("audit", str(log))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    warnings = [line for line in r.stderr.splitlines() if "malformed seccomp record" in line]
    assert [w.split(": ")[2] for w in warnings] == [f"{log}:{n}" for n in range(2, len(MALFORMED) + 4)], r.stderr
    assert _calls(r.stdout) == {("x86_64", "umask"): 1}


@pytest.mark.parametrize("bad", ["missing", "directory", "device", "unreadable-export"])
def test_bad_files_are_one_line_exit_2(tmp_path: Path, bad: str) -> None:
    path = {"missing": tmp_path / "nope.log", "directory": tmp_path, "device": Path("/dev/null"),
            "unreadable-export": tmp_path / "export"}[bad]
    if bad == "unreadable-export":
        path.write_bytes(b"__CURSOR=s=1\nMESSAGE\n\x05\x00")
    out = tmp_path / "out.json"
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_LOG", "syscalls": []}))
    r = seccomp_learn("audit", "--add-to", str(profile), "-o", str(out), str(DATA / "dmesg.txt"), str(path))
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and str(path) in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


def test_filters(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    lines = [(1796647300, 1, 10, "sh", "/bin/dash", 95), (1796647400, 2, 11, "sh", "/usr/bin/busybox", 83),
             (1796647500, 3, 12, "curl", "/usr/bin/curl", 41)]
    log.write_text("".join(f"type=SECCOMP msg=audit({t}.000:{s}): pid={p} comm=\"{c}\" exe=\"{e}\" sig=0 "
                           f"arch=c000003e syscall={n} compat=0 code=0x7ffc0000\n" for t, s, p, c, e, n in lines))

    def names(*args: str) -> set[str]:
        r = seccomp_learn("audit", *args, str(log))
        assert r.returncode == 0, r.stderr
        return {name for _, name in _calls(r.stdout)}

    assert names() == {"umask", "mkdir", "socket"}
    assert names("--comm", "sh") == {"umask", "mkdir"}
    assert names("--exe", "/usr/bin/*") == {"mkdir", "socket"}
    assert names("--pid", "12", "--pid", "10") == {"umask", "socket"}
    assert names("--since", "@1796647400") == {"mkdir", "socket"}
    assert names("--since", "2026-12-07T12:43:21Z") == {"socket"}  # 1796647400 is 12:43:20 UTC
    assert names("--comm", "sh", "--exe", "/bin/dash") == {"umask"}
    assert seccomp_learn("audit", "--since", "yesterday-ish", str(log)).returncode == 2


def test_add_to_is_deterministic_and_commented(tmp_path: Path) -> None:
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_LOG", "architectures": ["SCMP_ARCH_X86_64"],
                                   "syscalls": [{"names": ["read", "exit_group", "prctl"], "action": "SCMP_ACT_ALLOW",
                                                 "args": []},
                                                {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                                                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]}))
    log = tmp_path / "audit.log"
    log.write_text("".join(f"type=SECCOMP msg=audit(1796647{300 + k}.000:{k}): pid={10 + k % 2} comm=\"sh\" "
                           f"exe=\"/bin/{'dash' if k % 2 else 'sh'}\" sig=0 arch=c000003e syscall={n} compat=0 "
                           "code=0x7ffc0000\n" for k, n in enumerate([95, 83, 95, 0, 41])))
    outs = []
    for k in range(2):
        out = tmp_path / f"out{k}.json"
        r = seccomp_learn("audit", "--add-to", str(profile), "-o", str(out), str(log))
        assert r.returncode == 0, r.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    doc = json.loads(outs[0])
    assert doc["defaultAction"] == "SCMP_ACT_ERRNO" and doc["defaultErrnoRet"] == 1
    added = [(rule["names"], rule["comment"]) for rule in doc["syscalls"] if "audit" in rule.get("comment", "")]
    assert added == [(["mkdir"], "added by seccomp-learn audit: x1 by /bin/dash; first seen 2026-12-07T12:41:41Z"),
                     (["umask"], "added by seccomp-learn audit: x2 by /bin/sh; first seen 2026-12-07T12:41:40Z")]
    lacks = seccomp_learn("audit", "--add-to", str(profile), str(log))
    assert lacks.returncode == 1
    assert "lacks 2 syscall(s)" in lacks.stdout and "socket: allowed only for some argument values" in lacks.stdout
    assert seccomp_learn("audit", "--add-to", str(tmp_path / "out0.json"), str(log)).returncode == 0
