"""The generated syscall tables agree with the kernel's .tbl files (Linux 7.1) in ../shared."""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import REPO_ROOT, SHARED

from tracer.syscalls.names import name_of, number_of
from tracer.syscalls.table import TABLES

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/reference is not present")

SOURCES = {
    "x86_64": ("syscall_64.tbl", {"common", "64"}),
    "x32": ("syscall_64.tbl", {"common", "x32"}),
    "i386": ("syscall_32.tbl", {"i386"}),
    "aarch64": ("syscall_arm64.tbl", {"common", "64", "renameat", "rlimit", "memfd_secret"}),
}


def read_tbl(fname: str, abis: set[str]) -> dict[int, str]:
    """An independent reading of a .tbl file (not the generator's code)."""
    out = {}
    for line in (SHARED / fname).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            nr, abi, name, *_ = line.split()
            if abi in abis:
                out[int(nr)] = name
    return out


@needs_shared
@pytest.mark.parametrize("abi", sorted(SOURCES))
def test_table_equals_kernel_tbl(abi: str) -> None:
    assert TABLES[abi] == read_tbl(*SOURCES[abi])


@needs_shared
def test_generator_reproduces_the_committed_module() -> None:
    before = (REPO_ROOT / "tracer" / "syscalls" / "table.py").read_text()
    subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "gen_syscall_table.py"), str(SHARED)],
                   check=True, capture_output=True)
    assert (REPO_ROOT / "tracer" / "syscalls" / "table.py").read_text() == before


def test_newest_and_abi_specific_entries() -> None:
    assert name_of("x86_64", 471) == "rseq_slice_yield"
    assert name_of("x86_64", 39) == "getpid" and name_of("i386", 20) == "getpid"
    assert name_of("x32", 512) == "rt_sigaction" and name_of("x32", 13) is None
    assert number_of("i386", "socketcall") == 102 and number_of("x86_64", "socketcall") is None
    assert name_of("x86_64", 500) is None  # a number with no name stays unnamed
