"""sFlow v5 datagram decoder: UDP payloads in, a ``FrameBatch`` of sampled headers out.

Layout (sflow_version_5.txt, all fields big-endian XDR, 4-byte aligned)::

    datagram: version=5, address_type (1 IPv4, 2 IPv6, 0 none), address, sub_agent_id,
              sequence_number, uptime_ms, samples<>
    sample:   data_format (enterprise << 12 | format), length, body
    flow sample 0:1:          sequence, source_id, rate, pool, drops, input, output, records<>
    expanded flow sample 0:3: sequence, source_type, source_index, rate, pool, drops,
                              input_format, input, output_format, output, records<>
    record:   data_format, length, body
    raw packet header 0:1:    header_protocol, frame_length, stripped, header<>

Speed matters here (an sFlow collector for a DDoS pipeline must keep up with floods), so:
the datagrams are decoded where they lie in one buffer and frames are *not copied*: each
frame's offset points at its header bytes inside that buffer, which becomes the
``FrameBatch.data``. Fixed fields are read with precompiled ``struct.Struct.unpack_from``;
per sample the loop only does a handful of integer unpacks and list appends. Malformed
input never raises: the datagram is cut at the first problem, counted by reason, and the
samples before it are kept. No library does this: dpkt and scapy have no sFlow decoder, and
a dict per sample (the naive baseline in bench/bench_sflow.py) is 2-3x slower.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable, Sequence

import numpy as np

from netlogpush.decode import frames as fr
from netlogpush.decode.gather import block
from netlogpush.sources.sflow import stats as st
from netlogpush.sources.sflow import tracking as tr
from netlogpush.sources.sflow.tracking import MASK32, AgentState, AgentSummary, SourceState

log = logging.getLogger(__name__)

_II = struct.Struct(">II").unpack_from
_IIII = struct.Struct(">IIII").unpack_from
# Reading a sample header together with the flow sample fields that usually follow (and a
# record header with the raw packet header fields) halves the unpack calls per sample.
_SAMPLE = struct.Struct(">10I").unpack_from  # data_format, length + flow sample fields
_RECORD = struct.Struct(">6I").unpack_from  # data_format, length + raw packet header fields
_XFLOW = struct.Struct(">11I").unpack_from  # expanded flow sample fixed fields (44 bytes)

#: Raw packet header ``header_protocol`` -> pcap link type of the sampled header.
HEADER_PROTOCOL_LINKTYPE = {
    1: fr.LINKTYPE_ETHERNET,  # ETHERNET-ISO88023
    11: fr.LINKTYPE_IPV4,
    12: fr.LINKTYPE_IPV6,
}
_ADDRESS_LEN = {1: 4, 2: 16, 0: 0}

#: Agents tracked at most; datagrams from further agents are decoded but not tracked, so
#: spoofed agent addresses cannot grow memory without bound.
DEFAULT_MAX_AGENTS = 65_536

_PAD = bytes(fr.PAD)


class _Malformed(Exception):
    """Raised inside the decode loop only; never leaves this module."""


class SflowDecoder:
    """Decodes datagrams into ``FrameBatch``es and tracks sequence numbers across calls.

    One decoder per collector: its agent state makes loss counting work across batches.
    """

    def __init__(self, max_agents: int = DEFAULT_MAX_AGENTS, log_interval_s: float = 60.0) -> None:
        self.agents: dict[bytes, AgentState] = {}
        self.max_agents = max_agents
        self.untracked_datagrams = 0
        self.stats = st.SflowStats()
        self._log = st.RateLimitedLog(log, log_interval_s)

    def agent_summaries(self) -> list[AgentSummary]:
        # list() copies the dict in one step, so another thread decoding (and adding
        # agents) cannot break the iteration.
        return [AgentSummary.of(a) for a in list(self.agents.values())]

    def decode(self, datagrams: Iterable[tuple[bytes, int]]) -> tuple[fr.FrameBatch, st.SflowStats]:
        """Decode ``(payload, receive time in ns)`` pairs.

        The payloads are joined into one buffer (one copy); the frames point into it.
        """
        parts: list[bytes] = []
        spans: list[tuple[int, int, int]] = []
        pos = 0
        for payload, ts_ns in datagrams:
            n = len(payload)
            parts.append(payload)
            spans.append((pos, pos + n, ts_ns))
            pos += n
        parts.append(_PAD)
        return self.decode_buffer(b"".join(parts), spans)

    def decode_buffer(
        self, buf: bytes | bytearray, spans: Sequence[tuple[int, int, int]]
    ) -> tuple[fr.FrameBatch, st.SflowStats]:
        """Decode datagrams that lie at ``buf[start:end]`` for each ``(start, end, ts_ns)``.

        ``buf`` becomes the batch's ``data``, so it must not be modified afterwards and must
        end with at least ``frames.PAD`` zero bytes after the last datagram.
        """
        s = st.SflowStats()
        offs: list[int] = []
        rates: list[int] = []
        firsts: list[int] = []
        self._decode(buf, spans, s, offs, rates, firsts)
        data = np.frombuffer(buf, dtype=np.uint8)
        offsets = np.array(offs, dtype=np.int64)
        # The loop only notes where each header starts; the raw packet header fields in
        # front of it (header_protocol, frame_length, stripped, header length) are read
        # here for all frames at once, which is cheaper than four list appends per frame.
        fields = block(data, offsets - 16, 16).view(">u4")
        proto = fields[:, 0]
        linktype = np.full(offsets.size, fr.LINKTYPE_ETHERNET, dtype=np.uint16)
        linktype[proto == 11] = fr.LINKTYPE_IPV4
        linktype[proto == 12] = fr.LINKTYPE_IPV6
        # Frames of datagram i are firsts[i]:firsts[i + 1]; all carry its receive time.
        bounds = np.array([*firsts, offsets.size], dtype=np.int64)
        counts = bounds[1:] - bounds[:-1]
        ts_ns = np.repeat(np.array([x[2] for x in spans], dtype=np.int64), counts)
        batch = fr.FrameBatch(
            data=data,
            offsets=offsets,
            caplen=fields[:, 3].astype(np.uint32),
            wirelen=fields[:, 1].astype(np.uint32),
            ts_ns=ts_ns,
            linktype=linktype,
            sample_interval=np.array(rates, dtype=np.uint32),
        )
        self.stats.add(s)
        return batch, s

    def _decode(  # one flat loop on purpose: a call per sample costs speed
        self,
        buf: bytes | bytearray,
        spans: Sequence[tuple[int, int, int]],
        s: st.SflowStats,
        offs: list[int],
        rates: list[int],
        firsts: list[int],
    ) -> None:
        II, IIII, SAMPLE, RECORD, XFLOW = _II, _IIII, _SAMPLE, _RECORD, _XFLOW
        linktypes = HEADER_PROTOCOL_LINKTYPE
        agents = self.agents
        nbytes = n_flow = n_counter = n_unknown = n_skipped = n_unsupported = 0
        n_empty = n_zero_rate = samples_lost = agent_drops = 0
        dummy_sources: dict[int, SourceState] = {}
        # Locals the error handler reads: frames the current sample added, and its agent.
        k = 0
        agent_key = b""
        for start, end, _ts in spans:
            nbytes += end - start
            firsts.append(len(offs))
            k = 0
            agent_key = b""
            try:
                if end - start < 8:
                    raise _Malformed(st.TRUNCATED_HEADER)
                version, addr_type = II(buf, start)
                if version != 5:
                    raise _Malformed(st.BAD_VERSION)
                alen = _ADDRESS_LEN.get(addr_type)
                if alen is None:
                    raise _Malformed(st.BAD_ADDRESS_TYPE)
                p = start + 8 + alen
                if p + 16 > end:
                    raise _Malformed(st.TRUNCATED_HEADER)
                _sub_id, seq, uptime, nsamples = IIII(buf, p)
                agent_key = bytes(buf[start + 4 : p + 4])
                agent = agents.get(agent_key)
                if agent is None:
                    if len(agents) < self.max_agents:
                        agent = agents[agent_key] = AgentState(agent_key, seq, uptime, seq)
                        sources = agent.sources
                    else:
                        self.untracked_datagrams += 1
                        sources = dummy_sources
                        sources.clear()
                else:
                    lost, event = agent.datagram(seq, uptime)
                    if event:
                        s.datagrams_lost += lost
                        if event == tr.LATE:
                            s.datagrams_reordered += 1
                        elif event == tr.DUPLICATE:
                            s.datagrams_duplicated += 1
                        elif event == tr.RESTART:
                            s.agent_restarts += 1
                    sources = agent.sources
                p += 16
                for _ in range(nsamples):
                    if p + 40 <= end:
                        fmt, slen, seq, sid, rate, pool, drops, _i, _o, nrec = SAMPLE(buf, p)
                    elif p + 8 <= end:
                        # Too short for a flow sample: the length checks below reject one.
                        fmt, slen = II(buf, p)
                    else:
                        raise _Malformed(st.TRUNCATED_SAMPLE)
                    q = p + 8
                    p = q + slen
                    if p > end:
                        raise _Malformed(st.SAMPLE_LENGTH_OVERFLOW)
                    if fmt == 1:
                        if slen < 32:
                            raise _Malformed(st.FLOW_SAMPLE_TOO_SHORT)
                        skey = ((sid >> 24) << 32) | (sid & 0xFFFFFF)
                        r = q + 32
                    elif fmt == 3:
                        if slen < 44:
                            raise _Malformed(st.FLOW_SAMPLE_TOO_SHORT)
                        seq, stype, sindex, rate, pool, drops, _i, _i, _o, _o, nrec = XFLOW(buf, q)
                        skey = (stype << 32) | sindex
                        r = q + 44
                    elif fmt == 2 or fmt == 4:
                        n_counter += 1
                        continue
                    else:
                        n_unknown += 1
                        continue
                    if rate == 0:
                        rate = 1
                        n_zero_rate += 1
                    k = 0
                    for _ in range(nrec):
                        if r + 24 <= p:
                            rfmt, rlen, proto, _flen, _stripped, hlen = RECORD(buf, r)
                        elif r + 8 <= p:
                            # Too short for a raw packet header: checked below.
                            rfmt, rlen = II(buf, r)
                        else:
                            raise _Malformed(st.TRUNCATED_RECORD)
                        r += 8
                        rend = r + rlen
                        if rend > p:
                            raise _Malformed(st.RECORD_LENGTH_OVERFLOW)
                        if rfmt == 1:
                            if rlen < 16:
                                raise _Malformed(st.RAW_HEADER_TOO_SHORT)
                            if hlen > rlen - 16:
                                raise _Malformed(st.HEADER_LENGTH_OVERFLOW)
                            lt = linktypes.get(proto)
                            if lt is None:
                                n_unsupported += 1
                            elif hlen == 0:
                                n_empty += 1
                            else:
                                offs.append(r + 16)
                                rates.append(rate)
                                k += 1
                        else:
                            n_skipped += 1
                        r = rend
                    k = 0  # the sample is complete: its frames stay
                    n_flow += 1
                    src = sources.get(skey)
                    if src is None:
                        sources[skey] = SourceState(
                            (seq + 1) & MASK32, pool, drops, rate, seq, pool
                        )
                    elif seq == src.next_seq:
                        src.next_seq = (seq + 1) & MASK32
                        src.samples += 1
                        src.pool_packets += (pool - src.pool) & MASK32
                        src.pool = pool
                        src.rate = rate
                        if drops != src.drops:
                            d = (drops - src.drops) & MASK32
                            src.agent_drops += d
                            agent_drops += d
                            src.drops = drops
                    else:
                        before = src.agent_drops
                        n_lost, event = src.gap(seq, pool, drops, rate)
                        samples_lost += n_lost
                        agent_drops += src.agent_drops - before
                        if event == tr.LATE:
                            s.samples_reordered += 1
                        elif event == tr.RESTART:
                            s.source_resets += 1
            except _Malformed as exc:
                if k:
                    # Drop the frames of the sample that turned out bad.
                    del offs[-k:], rates[-k:]
                    k = 0
                self._malformed(s, str(exc), agent_key, start, end)
        s.datagrams = len(spans)
        s.bytes = nbytes
        s.flow_samples = n_flow
        s.counter_samples = n_counter
        s.unknown_samples = n_unknown
        s.frames = len(offs)
        s.skipped_records = n_skipped
        s.unsupported_header_protocol = n_unsupported
        s.empty_headers = n_empty
        s.zero_sampling_rate = n_zero_rate
        s.samples_lost = samples_lost
        s.agent_drops = agent_drops

    def _malformed(
        self, s: st.SflowStats, reason: str, agent_key: bytes, start: int, end: int
    ) -> None:
        s.malformed_datagrams += 1
        s.malformed[reason] = s.malformed.get(reason, 0) + 1
        agent = self.agents.get(agent_key)
        who = f"agent {agent.address} sub-agent {agent.sub_agent_id}" if agent else "datagram"
        self._log.warn(reason, f"{who}, {end - start} bytes; samples before the problem kept")


def parse_datagrams(
    datagrams: Iterable[tuple[bytes, int]], decoder: SflowDecoder | None = None
) -> tuple[fr.FrameBatch, st.SflowStats]:
    """Decode ``(payload, receive time ns)`` pairs into one ``FrameBatch``.

    Pass the same ``decoder`` on every call to track sequence numbers across calls.
    """
    return (decoder or SflowDecoder()).decode(datagrams)
