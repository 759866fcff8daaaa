"""sFlow v5 source: a UDP collector and a fast datagram decoder.

``SflowCollector`` receives datagrams and yields ``FrameBatch``es of the sampled packet
headers; ``parse_datagrams`` / ``SflowDecoder`` decode datagrams you already have.
"""

from __future__ import annotations

from netlogpush.sources.sflow.collector import CollectorStats, SflowCollector
from netlogpush.sources.sflow.datagram import (
    HEADER_PROTOCOL_LINKTYPE,
    SflowDecoder,
    parse_datagrams,
)
from netlogpush.sources.sflow.stats import SflowStats
from netlogpush.sources.sflow.tracking import AgentSummary

__all__ = [
    "HEADER_PROTOCOL_LINKTYPE",
    "AgentSummary",
    "CollectorStats",
    "SflowCollector",
    "SflowDecoder",
    "SflowStats",
    "parse_datagrams",
]
