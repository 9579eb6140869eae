"""The audit reader gets every seccomp record the kernel logs (dmesg kept 10 of 500 here: printk_ratelimit).

A child loads a libseccomp filter (not the project's) that logs only getppid, and calls it a
known number of times; the kernel must deliver exactly that many type-1326 records for its pid.
"""

from __future__ import annotations

import os

import pyseccomp as seccomp

from tracer.kernel.audit_netlink import AuditLog

CALLS = 500


def _child_logging_getppid(times: int) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            f = seccomp.SyscallFilter(seccomp.ALLOW)
            f.add_rule(seccomp.LOG, "getppid")
            f.load()
            for _ in range(times):
                os.getppid()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_every_record_of_a_burst_arrives(audit_log: AuditLog) -> None:
    pid = _child_logging_getppid(CALLS)
    audit_log.sync()
    mine = [r for r in audit_log.records() if r.pid == pid]
    assert [r.name for r in mine] == ["getppid"] * CALLS
    assert {(r.abi, r.code) for r in mine} == {("x86_64", 0x7FFC0000)}  # SECCOMP_RET_LOG
    assert len({r.serial for r in mine}) == CALLS

