"""Tests of the strace reference parser: synthetic logs, then real strace runs on the fixtures."""

from __future__ import annotations

import subprocess

import pytest

from tests.fixtures import EXPECTED_STATUS, STRACE_PARITY, build, parity_argv
from tests.strace_ref import StraceError, parse_strace_log, strace_syscalls


def _parse(text: str) -> dict[tuple[str, str], int]:
    return dict(parse_strace_log(text.strip("\n").splitlines()))


# ---------------------------------------------------------------- synthetic logs (strace 6.1 shapes)


def test_unfinished_resumed_counts_once_and_non_syscall_lines_are_skipped():
    log = """
100  [  59] execve("/x", ["/x"], 0x7ffd /* 3 vars */) = 0
100  [ 435] clone3({flags=0, exit_signal=SIGCHLD, stack=NULL, stack_size=0}, 88) = 101
101  [ 110] getppid( <unfinished ...>
100  [  61] wait4(101,  <unfinished ...>
101  [ 110] <... getppid resumed>)     = 100
101  [ 231] exit_group(0)              = ?
101  [ 231] +++ exited with 0 +++
100  [  61] <... wait4 resumed>NULL, 0, NULL) = 101
100  [  61] --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=101} ---
100  [ 231] exit_group(0)              = ?
"""
    assert _parse(log) == {
        ("x86_64", "execve"): 1,
        ("x86_64", "clone3"): 1,
        ("x86_64", "getppid"): 1,
        ("x86_64", "wait4"): 1,
        ("x86_64", "exit_group"): 2,
    }


def test_personality_is_tracked_per_pid_and_stale_number_prefix_ignored():
    log = """
200  [  56] [ Process PID=200 runs in 32 bit mode. ]
200  [  20] getpid( <unfinished ...>
201  [ 273] <... set_robust_list resumed>) = 0
200  [  20] <... getpid resumed>)      = 200
201  [ 273] [ Process PID=201 runs in 32 bit mode. ]
201  [  64] getppid()                  = 200
200  [  20] [ Process PID=200 runs in 64 bit mode. ]
200  [  61] wait4(201,  <unfinished ...>
201  [  64] [ Process PID=201 runs in 64 bit mode. ]
201  [ 110] getppid()                  = 200
201  [ 231] exit_group(0)              = ?
"""
    assert _parse(log) == {
        ("i386", "getpid"): 1,
        ("i386", "getppid"): 1,
        ("x86_64", "wait4"): 1,
        ("x86_64", "getppid"): 1,
        ("x86_64", "exit_group"): 1,
    }


def test_new_pid_inherits_current_personality_and_number_corrects_abi():
    # A child forked by an i386 fork gets no personality line while it stays in i386 mode.
    log = """
300  [  61] [ Process PID=300 runs in 32 bit mode. ]
300  [   2] fork()                     = 301
301  [  20] getpid()                   = 301
301  [  20] [ Process PID=301 runs in 64 bit mode. ]
301  [  39] getpid()                   = 301
302  [ 110] getppid()                  = 300
"""
    # 302 has no personality line either: it inherits the ABI of the last syscall line (301's
    # x86_64 getpid), and nr 110 is getppid in the x86_64 table (iopl on i386), so it stays x86_64.
    assert _parse(log) == {
        ("i386", "fork"): 1,
        ("i386", "getpid"): 1,
        ("x86_64", "getpid"): 1,
        ("x86_64", "getppid"): 1,
    }
    # A missed switch: the number names getpid only in the i386 table, so i386 wins.
    assert _parse("400  [  20] getpid()                   = 400") == {("i386", "getpid"): 1}


def test_unnamed_and_x32_numbers():
    log = """
500  [ 451] syscall_0x1c3(0xffffffffffffffff, 0, 0, 0, 0, 0) = -1 EBADF (Bad file descriptor)
500  [ 500] syscall_0x1f4(0, 0, 0, 0, 0, 0) = -1 ENOSYS (Function not implemented)
500  [1000] syscall_0x3e8(0, 0, 0, 0, 0, 0) = -1 ENOSYS (Function not implemented)
500  [  11] [ Process PID=500 runs in x32 mode. ]
500  [1073741863] getpid()             = -1 ENOSYS (Function not implemented)
500  [1073742424] syscall_0x40000258(0, 0, 0, 0, 0, 0) = -1 ENOSYS (Function not implemented)
500  [1073742424] [ Process PID=500 runs in 64 bit mode. ]
500  [ 231] exit_group(0)              = ?
"""
    assert _parse(log) == {
        ("x86_64", "cachestat"): 1,
        ("x86_64", "#500"): 1,
        ("x86_64", "#1000"): 1,
        ("x32", "getpid"): 1,
        ("x32", "#600"): 1,
        ("x86_64", "exit_group"): 1,
    }


def test_unknown_line_shape_raises():
    with pytest.raises(StraceError):
        _parse("garbage without a pid")


# ---------------------------------------------------------------- real strace runs


def test_fixture_builds_are_cached_and_run():
    first = build("exitcode")
    assert build("exitcode") == first
    assert subprocess.run([str(first), "7"], check=False).returncode == 7


def test_int80_shows_i386_calls():
    counts, status = strace_syscalls([str(build("int80"))])
    assert status == 0
    assert counts[("i386", "getpid")] == 1
    assert counts[("i386", "write")] == 1
    assert counts[("i386", "getppid")] == 1
    assert {abi for abi, _ in counts} == {"x86_64", "i386"}
    assert counts[("x86_64", "execve")] == 1
    assert counts[("x86_64", "exit_group")] == 1
    # no x86_64 getpid/getppid: the only ones are the int $0x80 calls
    assert counts[("x86_64", "getpid")] == 0
    assert counts[("x86_64", "getppid")] == 0


def test_rawhigh_keys_numbers_beyond_strace_table():
    mismatches: list[tuple[str, int, str, str]] = []
    counts, status = strace_syscalls([str(build("rawhigh"))], mismatches=mismatches)
    assert status == 0
    for key in ("cachestat", "mseal", "listns", "rseq_slice_yield", "#500", "#1000"):
        assert counts[("x86_64", key)] == 1, key
    assert not [k for k in counts if k[1].startswith("syscall_")]
    assert mismatches == []


def test_threads_daemon_and_exit_statuses(tmp_path):
    counts, status = strace_syscalls([str(build("threads"))])
    assert status == 0
    assert counts[("x86_64", "getppid")] == 12
    assert counts[("x86_64", "write")] == 4
    assert counts[("x86_64", "exit")] == 4

    marker = tmp_path / "marker"
    counts, status = strace_syscalls(parity_argv("daemon", ("{tmp}/marker",), tmp_path))
    assert status == 0
    assert marker.read_text() == "done\n"  # strace -f waits for the reparented grandchild
    assert counts[("x86_64", "setsid")] == 1
    assert counts[("x86_64", "exit_group")] == 3

    counts, status = strace_syscalls([str(build("killed"))])
    assert status == EXPECTED_STATUS["killed"] == -15
    assert counts[("x86_64", "kill")] == 1
    assert counts[("x86_64", "exit_group")] == 0

    _, status = strace_syscalls([str(build("exitcode")), "3"])
    assert status == EXPECTED_STATUS["exitcode"] == 3


@pytest.mark.parametrize(("name", "args"), STRACE_PARITY, ids=[n for n, _ in STRACE_PARITY])
def test_parity_fixtures_parse_under_strace(name, args, tmp_path):
    mismatches: list[tuple[str, int, str, str]] = []
    counts, status = strace_syscalls(parity_argv(name, args, tmp_path), mismatches=mismatches)
    assert status == EXPECTED_STATUS.get(name, 0)
    assert counts[("x86_64", "execve")] >= 1
    assert mismatches == []
