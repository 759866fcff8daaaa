"""Compile a tcpdump filter expression to classic BPF and attach it to a socket.

Why tcpdump and not libpcap through a Python binding: ``tcpdump -ddd`` is libpcap's own
compiler, it ships in every distribution (a Debian dependency of netlogpush's live mode), and it
keeps a compiled extension out of our install. The program is compiled for the link type of
the interface (``-y EN10MB`` for Ethernet) and attached with SO_ATTACH_FILTER, so the kernel
drops unwanted packets before they reach the capture ring.
"""

from __future__ import annotations

import ctypes
import shutil
import socket
import subprocess

#: <asm-generic/socket.h>; not exported by Python's socket module.
SO_ATTACH_FILTER = 26


class BpfError(ValueError):
    """The filter expression could not be compiled."""


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [
        ("len", ctypes.c_uint16),
        ("filter", ctypes.POINTER(_SockFilter)),
    ]


Program = list[tuple[int, int, int, int]]


def compile_filter(expression: str, *, dlt: str = "EN10MB", snaplen: int = 262144) -> Program:
    """``tcpdump -ddd`` output as (code, jt, jf, k) instructions."""
    tcpdump = shutil.which("tcpdump") or shutil.which("tcpdump", path="/usr/sbin:/sbin")
    if tcpdump is None:
        raise BpfError("compiling a capture filter needs tcpdump (apt-get install tcpdump)")
    proc = subprocess.run(
        [tcpdump, "-ddd", "-y", dlt, "-s", str(snaplen), "--", expression],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if proc.returncode != 0:
        detail = proc.stderr.strip().removeprefix("tcpdump: ")
        raise BpfError(f"bad capture filter {expression!r}: {detail}")
    lines = proc.stdout.split("\n")
    count = int(lines[0])
    program = [tuple(int(x) for x in line.split()) for line in lines[1 : 1 + count]]
    if len(program) != count or any(len(ins) != 4 for ins in program):
        raise BpfError(f"unexpected tcpdump -ddd output: {proc.stdout[:200]!r}")
    return [(a, b, c, d) for a, b, c, d in program]


def attach_filter(sock: socket.socket, program: Program) -> None:
    """SO_ATTACH_FILTER: the kernel copies the program during the call."""
    insns = (_SockFilter * len(program))(*[_SockFilter(*ins) for ins in program])
    fprog = _SockFprog(len(program), ctypes.cast(insns, ctypes.POINTER(_SockFilter)))
    # setsockopt copies sock_fprog (length + pointer); the kernel follows the pointer while
    # `insns` is still alive in this frame.
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(fprog))
