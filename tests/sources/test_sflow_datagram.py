"""sFlow v5 decoder: exact decoding, malformed input, round-trip and fuzz properties."""

from __future__ import annotations

import logging
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlogpush.decode import frames as fr
from netlogpush.sources.sflow import SflowDecoder, parse_datagrams
from netlogpush.sources.sflow import stats as sst
from netlogpush.testing import sflow_encoder as enc

ETH_HEADER = bytes(range(14)) + b"\x45" + bytes(range(50))  # 65 bytes: exercises padding


def _raw(header: bytes = ETH_HEADER, proto: int = 1, flen: int = 1500) -> enc.RawPacketHeader:
    return enc.RawPacketHeader(header, proto, flen)


def _frames(batch: fr.FrameBatch) -> list[tuple[bytes, int, int, int, int]]:
    return [
        (
            batch.frame(i),
            int(batch.wirelen[i]),
            int(batch.ts_ns[i]),
            int(batch.linktype[i]),
            int(batch.sample_interval[i]),
        )
        for i in range(len(batch))
    ]


def test_decodes_every_field_of_a_mixed_datagram() -> None:
    samples: list[enc.Sample] = [
        enc.FlowSample(7, 512, 3584, records=[_raw(), enc.extended_switch(10, 0, 20, 0)]),
        enc.CounterSample(3, records=[enc.generic_interface_counters(4)]),
        enc.FlowSample(
            8,
            0,
            3584,
            source_id_type=0,
            source_id_index=1,
            records=[enc.extended_switch(), _raw(b"\x45" + bytes(27), proto=11, flen=28)],
        ),
        enc.FlowSample(
            99,
            1000,
            5000,
            source_id_type=2,
            source_id_index=70_000_000,
            expanded=True,
            records=[_raw(b"\x60" + bytes(47), proto=12, flen=48)],
        ),
        enc.CounterSample(4, expanded=True),
        enc.OpaqueSample(5, b"\x00" * 12, enterprise=4413),
        enc.FlowSample(1, 1, 1, source_id_index=9, records=[_raw(proto=13)]),  # MPLS: skipped
        enc.FlowSample(2, 1, 2, source_id_index=9, records=[_raw(b"")]),  # empty header
    ]
    payload = enc.Datagram("2001:db8::7", 3, 42, 123_456, samples).encode()
    batch, s = parse_datagrams([(payload, 1_700_000_000_000_000_000)])

    ts = 1_700_000_000_000_000_000
    assert _frames(batch) == [
        (ETH_HEADER, 1500, ts, fr.LINKTYPE_ETHERNET, 512),
        (b"\x45" + bytes(27), 28, ts, fr.LINKTYPE_IPV4, 1),
        (b"\x60" + bytes(47), 48, ts, fr.LINKTYPE_IPV6, 1000),
    ]
    assert batch.caplen.tolist() == [65, 28, 48]
    assert batch.data.dtype == np.uint8
    assert s.datagrams == 1 and s.bytes == len(payload)
    assert s.flow_samples == 5
    assert s.counter_samples == 2
    assert s.unknown_samples == 1
    assert s.frames == 3
    assert s.skipped_records == 2
    assert s.unsupported_header_protocol == 1
    assert s.empty_headers == 1
    assert s.zero_sampling_rate == 1
    assert s.malformed_datagrams == 0 and s.malformed == {}


def test_agent_and_sources_are_tracked() -> None:
    dec = SflowDecoder()
    samples = [
        enc.FlowSample(10, 100, 1000, source_id_index=5, records=[_raw()]),
        enc.FlowSample(11, 100, 1100, source_id_index=5, records=[_raw()]),
        enc.FlowSample(500, 10, 7000, source_id_type=2, source_id_index=1 << 30, expanded=True),
    ]
    dec.decode([(enc.Datagram("10.1.2.3", 17, 900, 5000, samples).encode(), 0)])
    (agent,) = dec.agent_summaries()
    assert (agent.address, agent.sub_agent_id) == ("10.1.2.3", 17)
    assert (agent.first_sequence, agent.last_sequence, agent.datagrams) == (900, 900, 1)
    assert agent.flow_samples == 3
    by_index = {(x.source_id_type, x.source_id_index): x for x in agent.sources}
    src = by_index[(0, 5)]
    assert (src.first_sequence, src.last_sequence, src.samples) == (10, 11, 2)
    assert (src.pool_packets, src.last_sample_pool, src.sampling_rate) == (100, 1100, 100)
    assert by_index[(2, 1 << 30)].last_sequence == 500


def test_frames_point_into_the_joined_buffer_without_copies() -> None:
    exporter = enc.FlowExporter(sampling_rate=4)
    headers = [(bytes([i]) * (20 + i), 100 + i) for i in range(40)]
    datagrams = exporter.export(headers)
    assert len(datagrams) > 2
    batch, s = parse_datagrams([(d, i) for i, d in enumerate(datagrams)])
    assert [f[0] for f in _frames(batch)] == [h for h, _ in headers]
    assert batch.wirelen.tolist() == [n for _, n in headers]
    assert set(batch.sample_interval.tolist()) == {4}
    # All of the payloads plus the zero pad, and nothing else.
    assert batch.data.size == sum(map(len, datagrams)) + fr.PAD
    assert not batch.data[-fr.PAD :].any()
    assert s.samples_lost == 0 and s.datagrams_lost == 0


# --- malformed input -------------------------------------------------------------------


def _good_sample(seq: int) -> enc.FlowSample:
    return enc.FlowSample(seq, 1, seq, records=[_raw(bytes([seq]) * 40)])


def _datagram_with_tail(tail: bytes, n_before: int = 2, declared_extra: int = 1) -> bytes:
    """A datagram with ``n_before`` good samples followed by raw ``tail`` bytes."""
    good = [_good_sample(i + 1) for i in range(n_before)]
    head = enc.Datagram("192.0.2.9", 0, 1, 1, good).encode()
    # Patch the sample count to promise the extra (bad) samples too.
    count_at = 24
    n = struct.unpack_from(">I", head, count_at)[0] + declared_extra
    return head[:count_at] + struct.pack(">I", n) + head[count_at + 4 :] + tail


def _u32(*v: int) -> bytes:
    return struct.pack(f">{len(v)}I", *v)


RAW_OK = _u32(1, 60, 4, 4) + b"abcd"
MALFORMED_CASES = {
    sst.TRUNCATED_SAMPLE: _u32(1),
    sst.SAMPLE_LENGTH_OVERFLOW: _u32(1, 400) + bytes(40),
    sst.FLOW_SAMPLE_TOO_SHORT: _u32(1, 28) + bytes(28),
    sst.TRUNCATED_RECORD: _u32(1, 32 + 8 + 4) + _u32(9, 1, 1, 1, 0, 0, 0, 2) + _u32(1001, 0, 1),
    sst.RECORD_LENGTH_OVERFLOW: _u32(1, 32 + 8 + 20)
    + _u32(9, 1, 1, 1, 0, 0, 0, 1)
    + _u32(1, 200)
    + RAW_OK,
    sst.RAW_HEADER_TOO_SHORT: _u32(1, 32 + 8 + 12)
    + _u32(9, 1, 1, 1, 0, 0, 0, 1)
    + _u32(1, 12, 1, 60, 4),
    # A good raw header record first, then the bad one: the sample's first frame is dropped.
    sst.HEADER_LENGTH_OVERFLOW: _u32(1, 32 + 2 * (8 + 20))
    + _u32(9, 1, 1, 1, 0, 0, 0, 2)
    + _u32(1, 20)
    + RAW_OK
    + _u32(1, 20)
    + _u32(1, 60, 4, 5)
    + b"abcd",
}


@pytest.mark.parametrize("reason", sorted(MALFORMED_CASES))
def test_malformed_sample_is_counted_and_earlier_samples_kept(reason: str) -> None:
    payload = _datagram_with_tail(MALFORMED_CASES[reason])
    batch, s = parse_datagrams([(payload, 5)])
    assert s.malformed == {reason: 1}
    assert s.malformed_datagrams == 1
    assert [f[0] for f in _frames(batch)] == [b"\x01" * 40, b"\x02" * 40]
    assert s.flow_samples == 2


def test_malformed_headers_are_counted() -> None:
    good = enc.Datagram(samples=[_good_sample(1)]).encode()
    cases = [
        (b"", sst.TRUNCATED_HEADER),
        (good[:20], sst.TRUNCATED_HEADER),
        (_u32(4) + good[4:], sst.BAD_VERSION),
        (good[:4] + _u32(3) + good[8:], sst.BAD_ADDRESS_TYPE),
        (good[:-1], sst.SAMPLE_LENGTH_OVERFLOW),
    ]
    batch, s = parse_datagrams([(p, 0) for p, _ in cases] + [(good, 0)])
    expected: dict[str, int] = {}
    for _, reason in cases:
        expected[reason] = expected.get(reason, 0) + 1
    assert s.malformed == expected
    assert s.malformed_datagrams == len(cases)
    assert len(batch) == 1 and s.flow_samples == 1


def test_address_type_zero_means_no_address() -> None:
    good = enc.Datagram(samples=[_good_sample(1)]).encode()
    payload = _u32(5, 0) + good[12:]  # drop the 4 address bytes
    dec = SflowDecoder()
    batch, s = dec.decode([(payload, 0)])
    assert len(batch) == 1 and s.malformed == {}
    assert dec.agent_summaries()[0].address == ""


def test_malformed_logging_is_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    dec = SflowDecoder(log_interval_s=3600)
    bad = [(_u32(4) + bytes(40), 0)] * 50 + [(b"\x00", 0)] * 50
    with caplog.at_level(logging.WARNING, logger="netlogpush.sources.sflow"):
        dec.decode(bad)
        dec.decode(bad)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert any(sst.BAD_VERSION in m for m in messages)
    assert any(sst.TRUNCATED_HEADER in m for m in messages)
    assert dec.stats.malformed == {sst.BAD_VERSION: 100, sst.TRUNCATED_HEADER: 100}


# --- round trip (hypothesis) -----------------------------------------------------------

U32 = st.integers(0, 2**32 - 1)
headers = st.binary(min_size=0, max_size=160)
raw_records = st.builds(
    enc.RawPacketHeader,
    header=headers,
    header_protocol=st.sampled_from([1, 11, 12, 1, 11, 12, 2, 13]),
    frame_length=U32,
    stripped=st.integers(0, 8),
)
other_records = st.builds(
    enc.OpaqueRecord,
    fmt=st.integers(2, 4095),
    body=st.binary(max_size=40).map(lambda b: b + bytes(-len(b) % 4)),
    enterprise=st.integers(0, 2**20 - 1),
)
flow_samples = st.builds(
    enc.FlowSample,
    sequence=U32,
    sampling_rate=st.one_of(st.just(0), U32),
    sample_pool=U32,
    drops=U32,
    source_id_type=st.integers(0, 255),
    source_id_index=st.integers(0, 2**24 - 1),
    records=st.lists(st.one_of(raw_records, other_records), max_size=4),
    expanded=st.booleans(),
)
other_samples = st.one_of(
    st.builds(
        enc.CounterSample,
        sequence=U32,
        expanded=st.booleans(),
        records=st.lists(st.just(enc.generic_interface_counters()), max_size=2),
    ),
    st.builds(enc.OpaqueSample, fmt=st.integers(5, 4095), body=st.binary(max_size=32)),
)
datagrams = st.builds(
    enc.Datagram,
    agent=st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(str),
    sub_agent_id=U32,
    sequence=U32,
    uptime_ms=U32,
    samples=st.lists(st.one_of(flow_samples, other_samples), max_size=8),
)


def _expected_frames(d: enc.Datagram, ts: int) -> list[tuple[bytes, int, int, int, int]]:
    lt = {1: fr.LINKTYPE_ETHERNET, 11: fr.LINKTYPE_IPV4, 12: fr.LINKTYPE_IPV6}
    out = []
    for sample in d.samples:
        if not isinstance(sample, enc.FlowSample):
            continue
        for rec in sample.records:
            if isinstance(rec, enc.RawPacketHeader) and rec.header and rec.header_protocol in lt:
                assert rec.frame_length is not None
                rate = sample.sampling_rate or 1
                out.append((rec.header, rec.frame_length, ts, lt[rec.header_protocol], rate))
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(datagrams, min_size=1, max_size=6))
def test_round_trip(ds: list[enc.Datagram]) -> None:
    dec = SflowDecoder()
    batch, s = dec.decode([(d.encode(), 1000 + i) for i, d in enumerate(ds)])
    expected = [f for i, d in enumerate(ds) for f in _expected_frames(d, 1000 + i)]
    assert _frames(batch) == expected
    assert s.malformed == {}
    flows = [x for d in ds for x in d.samples if isinstance(x, enc.FlowSample)]
    assert s.flow_samples == len(flows)
    assert s.counter_samples == sum(isinstance(x, enc.CounterSample) for d in ds for x in d.samples)
    assert s.zero_sampling_rate == sum(x.sampling_rate == 0 for x in flows)
    # Each (agent, sub-agent) is tracked, with the sequence number it sent last.
    last = {(str(enc.ipaddress.ip_address(d.agent)), d.sub_agent_id): d.sequence for d in ds}
    agents = {(a.address, a.sub_agent_id): a for a in dec.agent_summaries()}
    assert set(agents) == set(last)
    if len(ds) == 1:
        (agent,) = agents.values()
        assert agent.last_sequence == ds[0].sequence
        seqs = {(x.source_id_type, x.source_id_index): x.sequence for x in flows}
        got = {(x.source_id_type, x.source_id_index): x.last_sequence for x in agent.sources}
        # With one datagram, the last sample of each source is what we saw last, unless a
        # later sample of the same source looked like a reset or a gap; single sample: exact.
        for key, seq in seqs.items():
            if sum((x.source_id_type, x.source_id_index) == key for x in flows) == 1:
                assert got[key] == seq


# --- fuzz ------------------------------------------------------------------------------


def _check_batch(batch: fr.FrameBatch) -> None:
    end = batch.offsets + batch.caplen.astype(np.int64)
    assert (batch.offsets >= 0).all()
    assert (end + fr.PAD <= batch.data.size).all()
    assert (batch.sample_interval >= 1).all()


# Random bytes behind a valid header, so the fuzz gets past the version check.
after_header = st.builds(
    lambda n, body: _u32(5, 1, 0xC0000201, 0, 1, 1, n) + body,
    st.sampled_from([0, 1, 2, 7, 0xFFFFFFFF]),
    st.binary(max_size=300),
)


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=300), after_header), max_size=4))
def test_random_bytes_never_raise(blobs: list[bytes]) -> None:
    batch, s = parse_datagrams([(b, 0) for b in blobs])
    _check_batch(batch)
    assert s.datagrams == len(blobs)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(datagrams, st.data())
def test_mutated_datagrams_never_raise(d: enc.Datagram, data: st.DataObject) -> None:
    payload = bytearray(d.encode())
    for _ in range(data.draw(st.integers(1, 6))):
        op = data.draw(st.sampled_from(["flip", "set32", "cut", "insert", "delete"]))
        if not payload:
            break
        i = data.draw(st.integers(0, len(payload) - 1))
        if op == "flip":
            payload[i] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "set32":
            word = data.draw(st.sampled_from([0, 1, 3, 0x7FFFFFFF, 0xFFFFFFFF, 0xFFFFFFF0]))
            payload[i : i + 4] = word.to_bytes(4, "big")
        elif op == "cut":
            del payload[i:]
        elif op == "insert":
            payload[i:i] = data.draw(st.binary(min_size=1, max_size=8))
        else:
            del payload[i : i + data.draw(st.integers(1, 8))]
    dec = SflowDecoder()
    batch, _ = dec.decode([(bytes(payload), 0), (d.encode(), 1)])
    _check_batch(batch)
    # The intact copy after the mutant always decodes completely.
    assert len(batch) >= len(_expected_frames(d, 1))
