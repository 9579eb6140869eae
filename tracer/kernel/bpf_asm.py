"""A small eBPF assembler: the instruction encoding of linux/bpf.h as functions, and labels for jumps.

The recording programs (capture/ebpf_programs.py) are written with these functions and loaded with
bpf(2) (kernel/bpf.py), so no compiler, kernel headers or libbpf are needed at run time
(docs/architecture.md says why this route was chosen). Each function returns one instruction (an
`Insn`, 8 bytes when encoded; `ld_map_fd` returns the two of a 64-bit load); a jump names a `Label`,
which `assemble` resolves to the relative offset the kernel expects.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

# Instruction classes, sizes, modes, ALU and jump operations, sources (linux/bpf_common.h, linux/bpf.h).
LD, LDX, ST, STX, ALU, JMP, JMP32, ALU64 = range(8)
W, H, B, DW = 0x00, 0x08, 0x10, 0x18
SIZE = {1: B, 2: H, 4: W, 8: DW}
IMM, MEM, ATOMIC = 0x00, 0x60, 0xC0
K, X = 0x00, 0x08
ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, NEG, MOD, XOR, MOV, ARSH = (
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0, 0xB0, 0xC0)
JA, JEQ, JGT, JGE, JSET, JNE, JSGT, JSGE, CALL, EXIT, JLT, JLE = (
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0, 0xB0)
FETCH = 0x01  # with ATOMIC: the source register receives the old value
PSEUDO_MAP_FD = 1  # src of a 64-bit load whose immediate is a map fd

# Registers: R0 return value, R1-R5 arguments (clobbered by calls), R6-R9 kept across calls, R10 frame pointer.
R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = range(11)
FP = R10

_INSN = struct.Struct("<BBhi")


class Label(NamedTuple):
    """A place in a program that jumps name. (Tuples, not Records: a program is made at every start.)"""

    name: str


class Insn(NamedTuple):
    code: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0
    target: Label | None = None  # a jump's destination, resolved by assemble()


Code = list[Insn | Label]


def mov(dst: int, src: int) -> Insn:
    return Insn(ALU64 | MOV | X, dst, src)


def mov_imm(dst: int, imm: int) -> Insn:
    return Insn(ALU64 | MOV | K, dst, imm=imm)


def alu_imm(op: int, dst: int, imm: int) -> Insn:
    return Insn(ALU64 | op | K, dst, imm=imm)


def load(size: int, dst: int, src: int, off: int) -> Insn:
    """dst = *(size bytes *)(src + off)"""
    return Insn(LDX | MEM | SIZE[size], dst, src, off)


def store(size: int, dst: int, off: int, src: int) -> Insn:
    """*(size bytes *)(dst + off) = src"""
    return Insn(STX | MEM | SIZE[size], dst, src, off)


def store_imm(size: int, dst: int, off: int, imm: int) -> Insn:
    return Insn(ST | MEM | SIZE[size], dst, off=off, imm=imm)


def atomic(op: int, dst: int, off: int, src: int, fetch: bool = False) -> Insn:
    """*(u64 *)(dst + off) op= src, atomically (with fetch, src gets the old value)."""
    return Insn(STX | ATOMIC | DW, dst, src, off, op | (FETCH if fetch else 0))


def ld_map_fd(dst: int, fd: int) -> list[Insn]:
    """dst = the map whose fd is given (the kernel swaps in its address at load time)."""
    return [Insn(LD | IMM | DW, dst, PSEUDO_MAP_FD, imm=fd), Insn(0)]


def jump(op: int, dst: int, imm: int, target: Label) -> Insn:
    """if dst op imm goto target (64-bit compare)"""
    return Insn(JMP | op | K, dst, imm=imm, target=target)


def jump_reg(op: int, dst: int, src: int, target: Label) -> Insn:
    return Insn(JMP | op | X, dst, src, target=target)


def goto(target: Label) -> Insn:
    return Insn(JMP | JA, target=target)


def call(helper: int) -> Insn:
    return Insn(JMP | CALL, imm=helper)


def exit_() -> Insn:
    return Insn(JMP | EXIT)


def assemble(code: Code) -> bytes:
    """The program's bytes: labels resolved to offsets relative to the instruction after each jump."""
    where: dict[Label, int] = {}
    count = 0
    for item in code:
        if isinstance(item, Label):
            if item in where:
                raise ValueError(f"label {item.name} placed twice")
            where[item] = count
        else:
            count += 1
    out = bytearray()
    index = 0
    for item in code:
        if isinstance(item, Label):
            continue
        off = item.off
        if item.target is not None:
            if item.target not in where:
                raise ValueError(f"jump to label {item.target.name}, which is not placed")
            off = where[item.target] - index - 1
        out += _INSN.pack(item.code, item.dst | item.src << 4, off, item.imm)
        index += 1
    return bytes(out)
