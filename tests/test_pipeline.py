"""``Pipeline``: decode, sample and build records; SampleInterval, stats, seeds, settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from netlogpush.config import Settings, load_settings
from netlogpush.dataset.fields import FIELD_NAMES
from netlogpush.dataset.records import SCHEMA
from netlogpush.decode import FrameBatch, FrameBatchBuilder
from netlogpush.pipeline import Pipeline, decode_file, pipeline_from_settings
from netlogpush.testing import packets as P

TS0 = 1_700_000_000_000_000_000


def tcp_frame(i: int) -> bytes:
    seg = P.tcp(sport=1024 + i % 60000, dport=443, seq=i, flags=P.ACK)
    return P.ethernet(
        P.ipv4(seg, src="198.51.100.7", dst="192.0.2.10", ident=i & 0xFFFF), ethertype=P.ETH_IPV4
    )


def batch(n: int, sample_interval: int = 1, start: int = 0) -> FrameBatch:
    b = FrameBatchBuilder()
    for i in range(start, start + n):
        b.append(tcp_frame(i), TS0 + i, P.LINKTYPE_ETHERNET, sample_interval=sample_interval)
    return b.build()


def test_records_of_a_batch() -> None:
    b = FrameBatchBuilder()
    b.append(tcp_frame(0), TS0, P.LINKTYPE_ETHERNET)
    b.append(P.ethernet(P.arp(), ethertype=P.ETH_ARP), TS0 + 1, P.LINKTYPE_ETHERNET)  # not IP
    b.append(tcp_frame(1)[:20], TS0 + 2, P.LINKTYPE_ETHERNET)  # no full IP header
    b.append(tcp_frame(2)[:40], TS0 + 3, P.LINKTYPE_ETHERNET)  # cut TCP header: still a record
    b.append(b"junk", TS0 + 4, 147)
    pipeline = Pipeline()
    table = pipeline.process(b.build())
    assert table.schema == SCHEMA
    assert table.column("Datetime").to_pylist() == [TS0, TS0 + 3]
    assert table.column("TCPSequenceNumber").to_pylist() == [0, 0]
    assert table.column("SourcePort").to_pylist() == [1024, 1026]
    for name, value in (("MitigationSystem", "magic-firewall"), ("Verdict", "pass"), ("Outcome", "pass"),
                        ("SampleInterval", 1), ("RulesetID", ""), ("Direction", "")):  # fmt: skip
        assert table.column(name).to_pylist() == [value, value], name
    assert pipeline.stats.as_dict() == {
        "frames": 5,
        "ip_packets": 2,
        "records": 2,
        "problems": {
            "not_ip": 1,
            "truncated_ip": 1,
            "truncated_transport": 1,
            "unsupported_linktype": 1,
        },
    }


def test_stats_add_up_over_batches() -> None:
    pipeline = Pipeline()
    tables = list(pipeline.run([batch(3), FrameBatch.empty(), batch(2, start=3)]))
    assert [t.num_rows for t in tables] == [3, 2]  # the empty batch yields no table
    assert pipeline.stats.as_dict() == {"frames": 5, "ip_packets": 5, "records": 5, "problems": {}}


@pytest.mark.parametrize(
    ("interval", "sflow_rate", "expected"), [(1, 1, 1), (1, 512, 512), (10, 1, 10), (10, 512, 5120)]
)
def test_sample_interval_is_ours_times_the_exporters(
    interval: int, sflow_rate: int, expected: int
) -> None:
    table = Pipeline(sample_interval=interval, seed=1).process(
        batch(400, sample_interval=sflow_rate)
    )
    assert table.num_rows > 0
    assert set(table.column("SampleInterval").to_pylist()) == {expected}


def test_sample_interval_does_not_wrap_at_32_bits() -> None:
    rate = 2**32 - 1  # the largest sFlow sampling rate
    table = Pipeline(sample_interval=3, seed=2).process(batch(300, sample_interval=rate))
    assert table.num_rows > 0
    assert set(table.column("SampleInterval").to_pylist()) == {3 * rate}


def test_mixed_exporter_rates_in_one_batch() -> None:
    b = FrameBatchBuilder()
    for i, rate in enumerate((1, 64, 4096)):
        b.append(tcp_frame(i), TS0 + i, P.LINKTYPE_ETHERNET, sample_interval=rate)
    table = Pipeline(sample_interval=1).process(b.build())
    assert table.column("SampleInterval").to_pylist() == [1, 64, 4096]


def test_sampling_keeps_about_1_in_n_and_is_seeded() -> None:
    frames = batch(20_000)
    a = Pipeline(sample_interval=100, seed=11).process(frames)
    b = Pipeline(sample_interval=100, seed=11).process(frames)
    assert a.equals(b)
    # 5 sigma of a binomial(20000, 0.01): sqrt(198) ~ 14.1
    assert abs(a.num_rows - 200) <= 71
    seqs = a.column("TCPSequenceNumber").to_numpy()
    assert np.all(np.diff(seqs) > 0)  # records keep arrival order
    assert a.column("Datetime").to_pylist() == [TS0 + int(s) for s in seqs]


def test_estimated_packet_count_is_unbiased() -> None:
    # Sum of SampleInterval estimates the packets on the wire: 30k frames each standing for 8.
    table = Pipeline(sample_interval=50, seed=3).process(batch(30_000, sample_interval=8))
    estimate = int(np.sum(table.column("SampleInterval").to_numpy()))
    sigma = 400 * np.sqrt(30_000 * (1 / 50) * (1 - 1 / 50))  # SampleInterval 400 per record
    assert abs(estimate - 240_000) <= 5 * sigma


def test_pipeline_from_settings(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("site: {name: ams01, code: AMS, country: NL}\ncustomer_prefixes: [192.0.2.0/24]\n"
                    "sampling: {interval: 4, seed: 9}\nmitigation: {profile: magic_wan}\n")  # fmt: skip
    settings = load_settings(path, {})
    pipeline = pipeline_from_settings(settings)
    assert [stage.system for stage in pipeline.chain.stages] == ["magic-firewall"]
    assert pipeline.chain.samplers["magic-firewall"].interval == 4
    table = pipeline.process(batch(200))
    again = pipeline_from_settings(settings).process(batch(200))
    assert table.equals(again)  # the seed makes the choice repeatable
    assert 20 <= table.num_rows <= 90  # 1 in 4 of 200: 50 expected, far beyond 5 sigma otherwise
    assert set(table.column("ColoName").to_pylist()) == {"ams01"}
    assert set(table.column("ColoCountry").to_pylist()) == {"NL"}
    assert set(table.column("Direction").to_pylist()) == {"ingress"}  # dst 192.0.2.10 is inside
    assert set(table.column("SampleInterval").to_pylist()) == {4}
    # Explicit arguments win over the settings.
    assert (
        pipeline_from_settings(settings, sample_interval=1, seed=0).process(batch(50)).num_rows
        == 50
    )
    # Without a fixed interval each system samples dynamically within its documented range.
    samplers = pipeline_from_settings(Settings()).chain.samplers
    assert {name: (s.policy.interval, s.policy.min_interval, s.policy.max_interval)
            for name, s in samplers.items()} == {
        "dosd": (None, 100, 10_000),
        "flowtrackd": (None, 1_000, 10_000),
        "magic-firewall": (None, 100, 1_000_000),
    }


def test_decode_file(tmp_path: Path) -> None:
    path = tmp_path / "c.pcap"
    P.write_pcap(
        path, [tcp_frame(i) for i in range(5)] + [P.ethernet(P.arp(), ethertype=P.ETH_ARP)]
    )
    table = decode_file(path)
    assert table.column_names == list(FIELD_NAMES)
    assert table.column("TCPSequenceNumber").to_pylist() == [0, 1, 2, 3, 4]
    assert table.column("Datetime").to_pylist() == [TS0 + i * 1_000_000 for i in range(5)]
    empty = tmp_path / "e.pcap"
    P.write_pcap(empty, [])
    assert decode_file(empty).schema == SCHEMA and decode_file(empty).num_rows == 0


def test_tune_allocator_in_a_fresh_process() -> None:
    code = (
        "import pyarrow as pa\n"
        "from netlogpush._runtime import tune_allocator\n"
        "print(tune_allocator(), pa.default_memory_pool().backend_name)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "system"]
    # A MALLOC_* setting made by the user is respected: nothing is changed by mallopt.
    env["MALLOC_TOP_PAD_"] = "1048576"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "system"]


def test_tables_concatenate() -> None:
    pipeline = Pipeline()
    tables = list(pipeline.run([batch(2), batch(3, start=2)]))
    merged = pa.concat_tables(tables)
    assert merged.column("TCPSequenceNumber").to_pylist() == [0, 1, 2, 3, 4]
