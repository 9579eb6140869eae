"""The eBPF backend's kernel side as data: the maps' layouts and the four raw tracepoint programs.

Written with the assembler in kernel/bpf_asm.py and loaded by capture/ebpf.py. What each does:

- `sched_process_fork`: a task started by a traced process is traced too (its thread group enters
  `traced` with its parent's executable id) before it ever runs, so there is no window before its exec;
  every new task, thread or process, is counted in `stats`.
- `sched_process_exec`: a traced process that exec'd gets the id of the file it now runs, found by
  (inode address, inode number) in `exes`; a file seen for the first time gets the next id and one
  event in the ring buffer (tgid, id, inode number, the interpreter path) for userspace to name it.
- `sched_process_exit`: when a traced thread group ends, it leaves `traced`. The root's end (its tgid is
  `stats[ROOT_TGID]`) sets `stats[ROOT_DONE]`, and from then on an event says so for each, with the
  task's exit_code (what wait would report: the code << 8, or the signal that killed it), which wakes
  the loop to see whether any is left. Before that there is no event (unless userspace set ROOT_DONE
  from the start, for opts.on_exit): the exits of a workload's children never wake this process. (Both
  sides use one atomic on ROOT_DONE: an exit that missed the flag has left `traced` before the root's
  exit is seen, so the loop, woken by the root, sees it gone.)
- `sys_enter`: for a traced process, one increment of `counts[(exe id, ABI, nr)]` (a per-CPU map: the
  threads of a workload on different CPUs never share the counter's cache line); the ABI is i386 when
  the task's thread_info has TS_COMPAT, which the kernel sets for every 32-bit call, `int $0x80` from
  64-bit code included (whose saved `cs` is still the 64-bit one); x32 numbers keep their bit. For
  a call with filterable arguments (`argspec`, filled from syscalls/info.py), each such argument's
  value enters `argvals` until ARG_VALUES_CAP + 1 distinct values were seen for it (then userspace says
  "many"); `argstate` keeps that count and the OR of every value (the flag bits).
  Built with `seccomp_gate` (the container wrapper), it counts a task's calls only once the task's
  seccomp mode is set: the runtime installs the container's filter right before the container's exec,
  so the runtime's own set-up is not counted (capture/ebpf.py, Recorder).

Nothing is dropped silently: a full map or ring buffer increments a `stats` counter, and the run is
then marked partial with how many were lost.
"""

from __future__ import annotations

import errno
import itertools
import struct

from tracer.kernel import bpf
from tracer.kernel.bpf_asm import (
    ADD,
    AND,
    FP,
    JEQ,
    JGE,
    JGT,
    JLT,
    JNE,
    OR,
    R0,
    R1,
    R2,
    R3,
    R4,
    R6,
    R7,
    R8,
    R9,
    RSH,
    SUB,
    Code,
    Insn,
    Label,
    alu_imm,
    assemble,
    atomic,
    call,
    exit_,
    goto,
    jump,
    jump_reg,
    ld_map_fd,
    load,
    mov,
    mov_imm,
    store,
    store_imm,
)
from tracer.recording.schema import ARG_VALUES_CAP
from tracer.structs import Struct
from tracer.syscalls.abi import X32_SYSCALL_BIT

# Map layouts, shared with the reader in capture/ebpf.py.
TGID = struct.Struct("<I")  # traced: key
EXE = struct.Struct("<I")  # traced: value (executable id); exes: value
COUNT_KEY = struct.Struct("<IIQ")  # counts: exe id, ABI (0 x86_64/x32, 1 i386), nr
U64 = struct.Struct("<Q")  # counts, stats: value
SLOT = struct.Struct("<I")  # argspec, stats: key
ARG_KEY = struct.Struct("<IIIIQ")  # argvals: ABI, nr, argument index, 0, value (argstate: the first 16 bytes)
ARG_STATE = struct.Struct("<QQ")  # argstate: distinct values entered, OR of every value
EXEC_EVENT = struct.Struct("<IIIIQ")  # kind, tgid, exe id, 0, inode number; then the path
EXIT_EVENT = struct.Struct("<II")  # kind, tgid (the start of every event)
EXITED = struct.Struct("<IIiI")  # an exit event: kind, tgid, task_struct.exit_code (a wait status), 0
PATH_SIZE = 256
EV_EXEC, EV_EXIT = 1, 2
LAUNCHER = 0  # executable id of the root before its exec: its calls are counted (only execve is kept), no values
ABI_X86_64, ABI_I386 = 0, 1
TS_COMPAT = 0x0002  # arch/x86/include/asm/thread_info.h: a 32-bit syscall is active

# stats slots
NEXT_EXE, TASKS, LOST_CALLS, LOST_ARGS, LOST_EVENTS, LOST_TASKS, ROOT_TGID, ROOT_DONE = range(8)
STATS = 8

# argspec slots: x86_64 numbers below SPEC_NR, then x32's, then i386's (the same split as capture/call_counts.py).
SPEC_NR = 1024
SPEC_SLOTS = 3 * SPEC_NR

# Sizes: bounded by distinct keys, not by calls; a full map is counted, never silent.
TRACED_ENTRIES = 32768
COUNT_ENTRIES = 32768  # per CPU and allocated as keys are added: preallocated, it took 15-30 ms of every start
EXE_ENTRIES = 8192
ARGVAL_ENTRIES = 32768
ARGSTATE_ENTRIES = 4096
RING_BYTES = 1 << 20

# struct pt_regs (arch/x86/include/asm/ptrace.h): the offsets of each ABI's argument registers.
ARG_REGS = {ABI_X86_64: (112, 104, 96, 56, 72, 64),  # di, si, dx, r10, r8, r9
            ABI_I386: (40, 88, 96, 104, 112, 32)}  # bx, cx, dx, si, di, bp

# The kernel fields the programs read, found in BTF (kernel/btf.py).
FIELDS = {"task_struct": ("tgid", "thread_info", "seccomp", "exit_code"), "seccomp": ("mode",),
          "thread_info": ("status",), "linux_binprm": ("file", "interp"),
          "file": ("f_inode",), "inode": ("i_ino",)}


class Maps(Struct, frozen=True):
    """The fds of the maps the programs use."""

    traced: int
    counts: int
    argspec: int
    argvals: int
    argstate: int
    exes: int
    stats: int
    events: int


_labels = itertools.count()


def _label(what: str) -> Label:
    return Label(f"{what}{next(_labels)}")


def _stack_key(reg: int, off: int) -> list[Insn]:
    """reg = the frame pointer + off (a key or value on the stack)."""
    return [mov(reg, FP), alu_imm(ADD, reg, off)]


def _lookup(map_fd: int, key_off: int) -> list[Insn]:
    return [*ld_map_fd(R1, map_fd), *_stack_key(R2, key_off), call(bpf.MAP_LOOKUP)]


def _update(map_fd: int, key_off: int, value_off: int, flags: int) -> list[Insn]:
    return [*ld_map_fd(R1, map_fd), *_stack_key(R2, key_off), *_stack_key(R3, value_off), mov_imm(R4, flags),
            call(bpf.MAP_UPDATE)]


def _read_kernel(dst_off: int, size: int, base: int, base_off: int) -> list[Insn]:
    """bpf_probe_read_kernel(fp + dst_off, size, base + base_off); base is a register."""
    return [*_stack_key(R1, dst_off), mov_imm(R2, size), mov(R3, base), alu_imm(ADD, R3, base_off),
            call(bpf.PROBE_READ_KERNEL)]


def _count(m: Maps, slot: int, scratch: int) -> Code:
    """stats[slot] += 1 (clobbers R0-R5 and the u32 at fp + scratch)."""
    done = _label("counted")
    return [store_imm(4, FP, scratch, slot), *_lookup(m.stats, scratch), jump(JEQ, R0, 0, done),
            mov_imm(R1, 1), atomic(ADD, R0, 0, R1), done]


def _current_tgid(off: int) -> list[Insn]:
    """R0 = the current thread group id, also stored as a u32 at fp + off."""
    return [call(bpf.GET_CURRENT_PID_TGID), alu_imm(RSH, R0, 32), store(4, FP, off, R0)]


def _return() -> list[Insn]:
    return [mov_imm(R0, 0), exit_()]


def sys_enter(m: Maps, status_off: int, seccomp_mode_off: int | None = None) -> bytes:
    """sys_enter(struct pt_regs *regs, long id): count the call, keep its filterable arguments.

    status_off: the offset of thread_info.status in task_struct; seccomp_mode_off, when given, that of
    seccomp.mode: a task whose mode is still 0 (no filter) is not counted."""
    out, inc, args, is32, abi_done, i386, have = (_label(n) for n in ("out", "inc", "args", "is32", "abi", "i386",
                                                                        "have"))
    regs, argkey, state0, one = -48, -72, -88, -92  # stack: the task's pt_regs pointer, argvals key, zeroed state, 1
    code: Code = [
        mov(R6, R1),
        *_current_tgid(-4), *_lookup(m.traced, -4), jump(JEQ, R0, 0, out),
        load(4, R7, R0, 0), store(4, FP, -24, R7),  # count key: exe id
        *_seccomp_gate(seccomp_mode_off, -32, out),
        load(8, R8, R6, 8), store(8, FP, -16, R8),  # nr
        call(bpf.GET_CURRENT_TASK_BTF), load(4, R9, R0, status_off),  # a direct read: no probe_read call
        alu_imm(AND, R9, TS_COMPAT), jump(JNE, R9, 0, is32), mov_imm(R9, ABI_X86_64),
        goto(abi_done),
        is32, mov_imm(R9, ABI_I386), abi_done,
        store(4, FP, -20, R9),
        *_lookup(m.counts, -24), jump(JNE, R0, 0, inc),
        store_imm(8, FP, -32, 1), *_update(m.counts, -24, -32, bpf.NOEXIST), jump(JEQ, R0, 0, args),
        *_lookup(m.counts, -24), jump(JNE, R0, 0, inc),  # another CPU entered it first
        *_count(m, LOST_CALLS, -40), goto(args),
        inc, mov_imm(R1, 1), atomic(ADD, R0, 0, R1),
        args,
        load(4, R1, FP, -24), jump(JEQ, R1, LAUNCHER, out),
        # argspec slot of (ABI, nr); numbers beyond the tables have no filterable arguments
        mov(R1, R8), jump(JEQ, R9, ABI_I386, i386),
        jump(JLT, R1, SPEC_NR, have),
        alu_imm(SUB, R1, X32_SYSCALL_BIT), jump(JGE, R1, SPEC_NR, out), alu_imm(ADD, R1, SPEC_NR), goto(have),
        i386, jump(JGE, R1, SPEC_NR, out), alu_imm(ADD, R1, 2 * SPEC_NR),
        have, store(4, FP, -40, R1), *_lookup(m.argspec, -40), jump(JEQ, R0, 0, out),
        load(4, R7, R0, 0), jump(JEQ, R7, 0, out),  # R7: the indexes to keep, as bits
        # the saved registers, read in place: bpf_task_pt_regs gives them as a pointer the verifier knows
        call(bpf.GET_CURRENT_TASK_BTF), mov(R1, R0), call(bpf.TASK_PT_REGS), store(8, FP, regs, R0),
        store(4, FP, argkey, R9), store(4, FP, argkey + 4, R8), store_imm(4, FP, argkey + 12, 0),
    ]
    for index in range(6):
        code += _keep_argument(m, index, regs, argkey, state0, one)
    code += [out, *_return()]
    return assemble(code)


def _seccomp_gate(mode_off: int | None, scratch: int, out: Label) -> Code:
    """Jump to out unless the current task has a seccomp mode (clobbers R0-R5 and the u32 at fp + scratch)."""
    if mode_off is None:
        return []
    return [call(bpf.GET_CURRENT_TASK), *_read_kernel(scratch, 4, R0, mode_off), load(4, R1, FP, scratch),
            jump(JEQ, R1, 0, out)]


def _keep_argument(m: Maps, index: int, regs: int, argkey: int, state0: int, one: int) -> Code:
    """Argument `index` (if its bit is in R7): into argvals while its distinct values are few. R6 is free here."""
    nxt, reg32, loaded, have_state, entered = (_label(n) for n in ("next", "reg32", "loaded", "state", "entered"))
    x64, i386 = ARG_REGS[ABI_X86_64][index], ARG_REGS[ABI_I386][index]
    return [
        mov(R1, R7), alu_imm(AND, R1, 1 << index), jump(JEQ, R1, 0, nxt),
        store_imm(4, FP, argkey + 8, index),
        load(8, R1, FP, regs), jump(JEQ, R9, ABI_I386, reg32), load(8, R1, R1, x64), goto(loaded),
        reg32, load(8, R1, R1, i386),
        loaded, store(8, FP, argkey + 16, R1),
        *_lookup(m.argvals, argkey), jump(JNE, R0, 0, nxt),  # seen: the common case
        *_lookup(m.argstate, argkey), jump(JNE, R0, 0, have_state),
        store_imm(8, FP, state0, 0), store_imm(8, FP, state0 + 8, 0),
        *_update(m.argstate, argkey, state0, bpf.NOEXIST),
        *_lookup(m.argstate, argkey), jump(JNE, R0, 0, have_state),
        *_count(m, LOST_ARGS, -40), goto(nxt),
        have_state, mov(R6, R0), load(8, R1, FP, argkey + 16), atomic(OR, R6, 8, R1),
        load(8, R1, R6, 0), jump(JGT, R1, ARG_VALUES_CAP, nxt),  # past the cap: only the bits
        store_imm(4, FP, one, 1), *_update(m.argvals, argkey, one, bpf.NOEXIST),
        jump(JEQ, R0, 0, entered), jump(JEQ, R0, -errno.EEXIST, nxt),
        *_count(m, LOST_ARGS, -40), goto(nxt),
        entered, mov_imm(R1, 1), atomic(ADD, R6, 0, R1),
        nxt,
    ]


def sched_process_fork(m: Maps, tgid_off: int) -> bytes:
    """sched_process_fork(struct task_struct *parent, *child): the child of a traced process is traced."""
    out = _label("out")
    return assemble([
        mov(R6, R1),
        *_current_tgid(-4), mov(R8, R0), *_lookup(m.traced, -4), jump(JEQ, R0, 0, out),
        load(4, R7, R0, 0),
        *_count(m, TASKS, -16),
        load(8, R9, R6, 8), *_read_kernel(-8, 4, R9, tgid_off), jump(JNE, R0, 0, out),
        load(4, R1, FP, -8), jump_reg(JEQ, R1, R8, out),  # a thread: its group is traced already
        store(4, FP, -12, R7), *_update(m.traced, -8, -12, bpf.ANY), jump(JEQ, R0, 0, out),
        *_count(m, LOST_TASKS, -16),
        out, *_return(),
    ])


def sched_process_exec(m: Maps, offsets: dict[tuple[str, str], int]) -> bytes:
    """sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm): name the new image."""
    out, new, got = _label("out"), _label("new"), _label("got")
    file_off, interp_off = offsets[("linux_binprm", "file")], offsets[("linux_binprm", "interp")]
    inode_off, ino_off = offsets[("file", "f_inode")], offsets[("inode", "i_ino")]
    return assemble([
        mov(R6, R1),
        *_current_tgid(-4), mov(R9, R0), *_lookup(m.traced, -4), jump(JEQ, R0, 0, out),
        mov(R7, R0),  # the process's entry in traced: its exe id is set below
        load(8, R8, R6, 16), *_read_kernel(-40, 8, R8, file_off),
        load(8, R8, FP, -40), *_read_kernel(-32, 8, R8, inode_off),  # exes key: inode address...
        load(8, R8, FP, -32), *_read_kernel(-24, 8, R8, ino_off),  # ... and inode number
        *_lookup(m.exes, -32), jump(JEQ, R0, 0, new),
        load(4, R1, R0, 0), store(4, R7, 0, R1), goto(out),
        new,
        store_imm(4, FP, -44, NEXT_EXE), *_lookup(m.stats, -44), jump(JEQ, R0, 0, out),
        mov_imm(R8, 1), atomic(ADD, R0, 0, R8, fetch=True),  # R8: the new id
        store(4, R7, 0, R8),
        store(4, FP, -48, R8), *_update(m.exes, -32, -48, bpf.ANY),
        *ld_map_fd(R1, m.events), mov_imm(R2, EXEC_EVENT.size + PATH_SIZE), mov_imm(R3, 0),
        call(bpf.RINGBUF_RESERVE), jump(JNE, R0, 0, got),
        *_count(m, LOST_EVENTS, -44), goto(out),
        got, mov(R7, R0),
        store_imm(4, R7, 0, EV_EXEC), store(4, R7, 4, R9), store(4, R7, 8, R8), store_imm(4, R7, 12, 0),
        load(8, R1, FP, -24), store(8, R7, 16, R1),
        load(8, R8, R6, 16), *_read_kernel(-56, 8, R8, interp_off),
        mov(R1, R7), alu_imm(ADD, R1, EXEC_EVENT.size), mov_imm(R2, PATH_SIZE), load(8, R3, FP, -56),
        call(bpf.PROBE_READ_KERNEL_STR),
        mov(R1, R7), mov_imm(R2, 0), call(bpf.RINGBUF_SUBMIT),
        out, *_return(),
    ])


def sched_process_exit(m: Maps, exit_code_off: int) -> bytes:
    """sched_process_exit(struct task_struct *p, bool group_dead): a traced process that ended leaves.

    exit_code_off: the offset of task_struct.exit_code, which do_exit set before this tracepoint."""
    out, other, tell = _label("out"), _label("other"), _label("tell")
    return assemble([
        mov(R6, R1),
        load(8, R1, R6, 8), alu_imm(AND, R1, 0xFF), jump(JEQ, R1, 0, out),  # another thread lives on
        *_current_tgid(-4), mov(R7, R0), *_lookup(m.traced, -4), jump(JEQ, R0, 0, out),
        *ld_map_fd(R1, m.traced), *_stack_key(R2, -4), call(bpf.MAP_DELETE),
        store_imm(4, FP, -20, ROOT_TGID), *_lookup(m.stats, -20), jump(JEQ, R0, 0, out),
        load(8, R9, R0, 0), mov_imm(R8, 0), jump_reg(JNE, R9, R7, other), mov_imm(R8, 1),  # R8: is the root
        other,
        store_imm(4, FP, -20, ROOT_DONE), *_lookup(m.stats, -20), jump(JEQ, R0, 0, out),
        mov(R1, R8), atomic(ADD, R0, 0, R1, fetch=True),  # the root sets the flag; R1: the flag before
        jump(JNE, R8, 0, tell), jump(JEQ, R1, 0, out),  # the root still runs: nobody waits for this exit
        tell,
        store_imm(4, FP, -16, EV_EXIT), store(4, FP, -12, R7),
        store_imm(8, FP, -8, 0), load(8, R8, R6, 0), *_read_kernel(-8, 4, R8, exit_code_off),  # EXITED's code
        *ld_map_fd(R1, m.events), *_stack_key(R2, -16), mov_imm(R3, EXITED.size), mov_imm(R4, 0),
        call(bpf.RINGBUF_OUTPUT), jump(JEQ, R0, 0, out),
        *_count(m, LOST_EVENTS, -20),
        out, *_return(),
    ])
