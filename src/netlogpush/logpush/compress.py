"""gzip for upload bodies (reference §4: every destination receives gzip).

ISA-L's igzip (PyPI ``isal``) at level 1 compresses several times faster than zlib at a
ratio close to zlib level 1; zlib is the fallback when ``isal`` is not installed. Both write a
plain single-member gzip stream that stdlib ``gzip.decompress`` reads.
"""

from __future__ import annotations

import zlib
from types import ModuleType
from typing import Literal

_igzip: ModuleType | None
try:  # optional: a faster drop-in, not a requirement
    from isal import igzip as _igzip
except ImportError:  # pragma: no cover - exercised only where isal is absent
    _igzip = None

Backend = Literal["isal", "zlib"]

#: Which library ``gzip_bytes`` uses by default.
BACKEND: Backend = "isal" if _igzip is not None else "zlib"


def gzip_bytes(data: bytes | bytearray | memoryview, *, backend: Backend | None = None) -> bytes:
    """The gzip member of ``data`` with mtime 0, so equal input gives equal output.

    ``backend`` forces one library (tests compare both); the default is ``BACKEND``.
    """
    chosen = backend or BACKEND
    if chosen == "isal":
        if _igzip is None:
            raise RuntimeError("the isal backend was asked for but isal is not installed")
        # igzip level 1 is ISA-L's fastest level that still finds matches (level 0 is
        # huffman-only and barely shrinks JSON).
        return bytes(_igzip.compress(data, compresslevel=1, mtime=0))
    # wbits 31 = gzip framing (zlib's default header carries mtime 0 and OS 255).
    comp = zlib.compressobj(1, zlib.DEFLATED, 31)
    return comp.compress(data) + comp.flush()
