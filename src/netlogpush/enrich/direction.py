"""``Direction``: ingress or egress relative to the customer network, for a whole batch."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from netlogpush.enrich.ranges import (
    Family,
    RangeIndex,
    build_range_index,
    keys_from_ints,
    v6_keys,
)

INGRESS = "ingress"
EGRESS = "egress"
_LABELS = np.array([INGRESS, EGRESS], dtype=object)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _index(networks: Sequence[Network], family: Family) -> RangeIndex:
    nets = [n for n in networks if n.version == family]
    return build_range_index(
        family,
        keys_from_ints([int(n.network_address) for n in nets], family),
        keys_from_ints([int(n.broadcast_address) for n in nets], family),
        merge_adjacent=True,
    )


class DirectionClassifier:
    """Destination inside a customer prefix -> ``ingress``; else source inside -> ``egress``;
    else ``ingress`` (the edge sees the packet arriving). No prefixes: always ``ingress``.

    Prefixes become merged sorted ranges, so each row costs two ``searchsorted`` probes
    however many prefixes there are.
    """

    def __init__(self, networks: Sequence[Network]) -> None:
        self._any = bool(networks)
        self._v4 = _index(networks, 4)
        self._v6 = _index(networks, 6)

    def classify(
        self,
        ip_version: npt.NDArray[np.uint8],
        src4: npt.NDArray[np.uint32],
        dst4: npt.NDArray[np.uint32],
        src6: npt.NDArray[np.uint8],
        dst6: npt.NDArray[np.uint8],
    ) -> npt.NDArray[np.object_]:
        n = len(ip_version)
        egress = np.zeros(n, dtype=bool)
        if self._any:
            rows4 = np.flatnonzero(ip_version == 4)
            if len(rows4) and len(self._v4):
                s = np.asarray(src4, dtype=np.uint32)[rows4]
                d = np.asarray(dst4, dtype=np.uint32)[rows4]
                egress[rows4] = self._v4.contains(s) & ~self._v4.contains(d)
            rows6 = np.flatnonzero(ip_version == 6)
            if len(rows6) and len(self._v6):
                s6 = v6_keys(np.asarray(src6)[rows6])
                d6 = v6_keys(np.asarray(dst6)[rows6])
                egress[rows6] = self._v6.contains(s6) & ~self._v6.contains(d6)
        return _LABELS[egress.astype(np.intp)]
