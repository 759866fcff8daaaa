"""The bounded connection table: hashing into buckets, eviction order, and a 1M-source flood."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from workload import SECOND, SERVER_NET, Packets, batches, handshakes, syn_flood

from netlogpush.decode.engine import decode
from netlogpush.mitigation.firewall.view import PacketView
from netlogpush.mitigation.flowtrackd import FlowtrackdConfig, FlowtrackdSystem
from netlogpush.mitigation.flowtrackd.table import BUCKET, SlotTable, first_byte
from netlogpush.mitigation.stage import StageInput

U64 = np.uint64


def test_first_byte() -> None:
    m = np.zeros((5, 8), np.bool_)
    m[1, 0] = m[2, 7] = m[3, 3] = m[3, 5] = True
    m[4, :] = True
    found, column = first_byte(m)
    assert found.tolist() == [False, True, True, True, True]
    assert column[found].tolist() == [0, 7, 3, 0]


def _by_first_word(table: SlotTable) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    return lambda slots, now: table.read(slots.reshape(-1))[:, 0].reshape(slots.shape)


def test_lookup_place_and_eviction_order() -> None:
    t = SlotTable(64, 2)  # 8 buckets of 8
    assert (t.capacity, t.buckets, t.nbytes) == (64, 8, 64 * 8 + 64 * 16)
    keys = (np.arange(1, 11, dtype=np.uint64) * U64(8)) | U64(3)  # all in bucket 3
    records = np.stack([np.arange(10) * 10 + 5, np.arange(10)], axis=1)
    never = np.full(10, -1, np.int64)  # may not evict anything
    slots = t.place(keys, records, _by_first_word(t), np.zeros(10), never)
    assert slots.tolist() == [24, 25, 26, 27, 28, 29, 30, 31, -1, -1]
    assert t.lookup(keys).tolist() == slots.tolist()
    assert t.lookup(np.array([3, 8 * 50 + 3], np.uint64)).tolist() == [-1, -1]
    # A newcomer evicts the lowest score (the first word, 5 for slot 24) if under its limit.
    new = np.array([U64(8 * 99 + 3)])
    assert t.place(
        new, np.array([[1, 1]]), _by_first_word(t), np.zeros(1), np.array([6])
    ).tolist() == [24]
    assert t.lookup(keys[:1]).tolist() == [-1]
    assert t.place(
        new + U64(8), np.array([[1, 1]]), _by_first_word(t), np.zeros(1), np.array([1])
    ).tolist() == [-1]
    t.clear(np.array([30]))
    assert t.place(
        new + U64(8), np.array([[7, 7]]), _by_first_word(t), np.zeros(1), np.array([0])
    ).tolist() == [30]
    assert t.read(np.array([30])).tolist() == [[7, 7]]
    assert t.occupied() == 8


def test_more_newcomers_than_a_bucket_holds() -> None:
    t = SlotTable(64, 1)
    keys = (np.arange(1, 40, dtype=np.uint64) * U64(8)) | U64(5)
    anything = np.full(39, np.iinfo(np.int64).max)
    slots = t.place(keys, np.zeros((39, 1), np.int64), _by_first_word(t), np.zeros(39), anything)
    # One per round, in priority order; 2·BUCKET rounds, each later key evicting the slot
    # the scores pick (all 0 here: the first slot).
    assert (slots >= 0).sum() == 2 * BUCKET
    assert t.occupied() == BUCKET


def _inputs(p: Packets) -> list[StageInput]:
    out = []
    for fb in batches(p):
        pc = decode(fb)
        out.append(StageInput(pc, PacketView.from_columns(pc), np.ones(len(pc), np.bool_)))
    return out


def test_a_million_source_syn_flood_leaves_established_connections_alone() -> None:
    rng = np.random.default_rng(7)
    capacity = 1 << 16
    cfg = FlowtrackdConfig.model_validate(
        {
            "prefixes": [{"prefix": "192.0.2.0/24"}],
            "syn_protection": {"rules": [{"mode": "enabled"}]},
            "tcp_flow_protection": {
                "rules": [{"mode": "enabled", "rate_sensitivity": 0, "burst_sensitivity": 0}]
            },
            "tracker": {"table_capacity": capacity},
        }
    )
    s = FlowtrackdSystem(cfg)
    memory = s.memory_bytes
    n_est = 4000
    opened, data = handshakes(n_est, 0, rng)
    for item in _inputs(opened):
        assert not s.process(item).drop.any()
    # One million SYNs from distinct spoofed sources to .200, at 1M packets/s.
    flood = syn_flood(1_000_000, 2 * SECOND, 1_000_000, rng, dst=SERVER_NET + 200)
    challenged = 0
    for item in _inputs(flood):
        d = s.process(item)
        challenged += int(d.drop.sum())
        assert s.tracker.table.occupied() <= capacity
    # Medium: rate 500/s, burst 2,500. At 1 µs apart the level after the i-th SYN is
    # i - 0.0005·(i - 1) packets, over 2,500 from i = 2,502 on.
    assert challenged == 1_000_000 - 2501
    assert s.counters()["CHALLENGE_NEEDED"] == challenged
    assert s.counters()["table_not_stored"] > 0  # the flood overflowed the table ...
    data.ts[:] = 4 * SECOND + np.arange(n_est) * 1000
    (item,) = _inputs(data)
    d = s.process(item)
    # ... yet every established connection is still known: no NOT_FOUND among them.
    fields = d.label_fields(np.arange(n_est))
    assert not d.drop.any()
    assert set(fields["ProtocolState"]) == {"OPEN"}
    assert s.memory_bytes == memory == 32 * capacity + 2 * 32 * (1 << 16)
