"""Process-wide memory settings that make batch work fast and steady.

On these machines glibc's default malloc returns freed memory to the kernel eagerly and
maps big blocks afresh each time, so allocation-heavy work (a 100 MB NDJSON batch, a
million-row decode) pays for page faults again and again: up to 8x slower and noisy. The
usual cure is ``MALLOC_TOP_PAD_=268435456`` in the environment; ``tune_allocator`` does the
same from inside the process with ``mallopt``, and routes pyarrow through the same heap.
Hand-written with ctypes: no library exposes ``mallopt``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

import pyarrow as pa

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
PAD_BYTES = 256 * 1024 * 1024
MMAP_THRESHOLD = 512 * 1024 * 1024


def tune_allocator() -> bool:
    """Keep freed memory for reuse; return whether glibc accepted the settings.

    Respects a ``MALLOC_*`` setting already made in the environment.
    """
    pa.set_memory_pool(pa.system_memory_pool())
    if any(k.startswith("MALLOC_") for k in os.environ):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        return False
    return all(
        mallopt(option, value) == 1
        for option, value in (
            (M_TOP_PAD, PAD_BYTES),
            (M_TRIM_THRESHOLD, 2 * PAD_BYTES),
            (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
        )
    )
