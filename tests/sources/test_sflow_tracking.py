"""sFlow sequence tracking: lost datagrams and samples, restarts, reordering, many agents."""

from __future__ import annotations

from netlogpush.sources.sflow import SflowDecoder
from netlogpush.sources.sflow.tracking import MIN_PLAUSIBLE_GAP
from netlogpush.testing import sflow_encoder as enc

HDR = b"\x45" + bytes(39)


def dgram(
    seq: int,
    uptime: int,
    samples: list[tuple[int, int]] | None = None,
    agent: str = "192.0.2.1",
    sub: int = 0,
    rate: int = 10,
    source: int = 1,
    drops: int = 0,
) -> tuple[bytes, int]:
    """A datagram; ``samples`` are (sample sequence, sample_pool) pairs of one source."""
    flows = [
        enc.FlowSample(
            s, rate, pool, drops, source_id_index=source, records=[enc.RawPacketHeader(HDR, 11, 40)]
        )
        for s, pool in (samples or [])
    ]
    return enc.Datagram(agent, sub, seq, uptime, flows).encode(), 0


def test_in_order_datagrams_lose_nothing() -> None:
    dec = SflowDecoder()
    _, s = dec.decode([dgram(i, 1000 + i, [(i, 10 * i)]) for i in range(1, 101)])
    assert (s.datagrams_lost, s.samples_lost, s.agent_restarts) == (0, 0, 0)
    (agent,) = dec.agent_summaries()
    assert (agent.datagrams, agent.first_sequence, agent.last_sequence) == (100, 1, 100)
    (src,) = agent.sources
    assert (src.samples, src.samples_lost, src.pool_packets) == (100, 0, 990)


def test_gaps_count_lost_datagrams_and_samples_across_calls() -> None:
    dec = SflowDecoder()
    dec.decode([dgram(1, 1000, [(1, 10), (2, 20)])])
    # Datagrams 2-4 (samples 3-8) never arrive.
    _, s = dec.decode([dgram(5, 1050, [(9, 90), (10, 100)])])
    assert (s.datagrams_lost, s.samples_lost) == (3, 6)
    assert (dec.stats.datagrams_lost, dec.stats.samples_lost) == (3, 6)
    (agent,) = dec.agent_summaries()
    assert (agent.datagrams_lost, agent.samples_lost, agent.flow_samples) == (3, 6, 4)


def test_late_datagram_takes_its_loss_back() -> None:
    dec = SflowDecoder()
    _, s = dec.decode(
        [dgram(1, 1000, [(1, 10)]), dgram(3, 1020, [(3, 30)]), dgram(2, 1010, [(2, 20)])]
    )
    assert (s.datagrams_lost, s.datagrams_reordered) == (0, 1)
    assert (s.samples_lost, s.samples_reordered) == (0, 1)


def test_duplicate_datagram_is_not_loss() -> None:
    dec = SflowDecoder()
    _, s = dec.decode([dgram(1, 1000), dgram(2, 1001), dgram(2, 1001), dgram(3, 1002)])
    assert (s.datagrams_lost, s.datagrams_duplicated, s.agent_restarts) == (0, 1, 0)


def test_restart_with_sequence_reset_is_not_loss() -> None:
    dec = SflowDecoder()
    dec.decode([dgram(i, 3_600_000 + i, [(i, i * 10)]) for i in range(1, 2001)])
    # Agent reboots: sequence numbers and uptime start again.
    _, s = dec.decode([dgram(1, 2_000, [(1, 10)]), dgram(2, 2_010, [(2, 20)])])
    assert (s.agent_restarts, s.datagrams_lost, s.samples_lost) == (1, 0, 0)
    (agent,) = dec.agent_summaries()
    assert (agent.restarts, agent.first_sequence, agent.last_sequence) == (1, 1, 2)
    (src,) = agent.sources
    assert (src.first_sequence, src.last_sequence, src.samples) == (1, 2, 2)


def test_restart_shortly_after_boot_detected_by_uptime_only() -> None:
    dec = SflowDecoder()
    # Sequence numbers go *forward* after the reboot, but uptime fell by an hour.
    _, s = dec.decode([dgram(10, 3_600_000), dgram(500, 1_000)])
    assert (s.agent_restarts, s.datagrams_lost) == (1, 0)


def test_sequence_wrap_around_is_continuous() -> None:
    dec = SflowDecoder()
    top = 2**32 - 1
    _, s = dec.decode(
        [
            dgram(top - 1, 100, [(top, 2**32 - 10)]),
            dgram(top, 101, [(0, 0)]),
            dgram(1, 103, [(2, 20)]),
        ]
    )
    # Datagram 0 and sample 1 are missing; nothing else.
    assert (s.datagrams_lost, s.samples_lost, s.agent_restarts, s.source_resets) == (1, 1, 0, 0)


def test_uptime_wrap_is_not_a_restart() -> None:
    dec = SflowDecoder()
    _, s = dec.decode([dgram(1, 2**32 - 5), dgram(2, 3)])
    assert (s.agent_restarts, s.datagrams_lost) == (0, 0)


def test_implausible_jump_is_a_restart_not_billions_lost() -> None:
    dec = SflowDecoder()
    _, s = dec.decode([dgram(1_000, 50_000), dgram(900_000_000, 50_010)])
    assert (s.agent_restarts, s.datagrams_lost) == (1, 0)
    # A forward gap the clock allows is loss.
    _, s = dec.decode([dgram(900_000_000 + MIN_PLAUSIBLE_GAP, 60_000)])
    assert (s.agent_restarts, s.datagrams_lost) == (0, MIN_PLAUSIBLE_GAP - 1)


def test_source_reset_and_sample_gap_judged_by_pool() -> None:
    dec = SflowDecoder()
    # Gap of 4 samples while the pool moved 50 packets: 4 lost.
    _, s = dec.decode([dgram(1, 100, [(1, 10), (6, 60)])])
    assert (s.samples_lost, s.source_resets) == (4, 0)
    # More samples "missing" than packets went by: the source was reset instead.
    _, s = dec.decode([dgram(2, 110, [(5000, 70)])])
    assert (s.samples_lost, s.source_resets) == (0, 1)
    # Sequence far behind, as after a sampling reconfiguration: reset, not reorder.
    _, s = dec.decode([dgram(3, 120, [(1, 5)])])
    assert (s.samples_lost, s.source_resets) == (0, 1)


def test_agent_drops_are_summed_from_the_drops_counter() -> None:
    dec = SflowDecoder()
    _, s = dec.decode(
        [
            dgram(1, 1, [(1, 10)], drops=5),
            dgram(2, 2, [(2, 20)], drops=9),
            dgram(3, 3, [(3, 30)], drops=9),
            dgram(5, 5, [(5, 50)], drops=12),
        ]
    )
    assert s.agent_drops == 7
    assert dec.agent_summaries()[0].agent_drops == 7


def test_many_agents_and_sub_agents_interleaved() -> None:
    dec = SflowDecoder()
    agents = [(f"10.0.{i // 250}.{i % 250 + 1}", i % 3) for i in range(600)]
    agents += [(f"2001:db8::{i:x}", 7) for i in range(200)]
    items = []
    for seq in range(1, 6):
        for n, (addr, sub) in enumerate(agents):
            if seq == 3 and n % 2:
                continue  # odd agents lose datagram 3 (and its sample)
            items.append(dgram(seq, 1000 * seq, [(seq, seq * 10)], agent=addr, sub=sub))
    _, s = dec.decode(items)
    assert len(dec.agents) == 800
    assert s.datagrams_lost == 400 and s.samples_lost == 400
    summaries = {(a.address, a.sub_agent_id): a for a in dec.agent_summaries()}
    assert summaries[("10.0.0.2", 1)].datagrams_lost == 1
    assert summaries[("10.0.0.1", 0)].datagrams_lost == 0
    assert summaries[("2001:db8::c7", 7)].datagrams == 4


def test_agent_table_is_bounded() -> None:
    dec = SflowDecoder(max_agents=10)
    batch, s = dec.decode([dgram(1, 1, [(1, 10)], agent=f"198.51.100.{i}") for i in range(1, 31)])
    assert len(dec.agents) == 10 and dec.untracked_datagrams == 20
    assert len(batch) == 30 and s.flow_samples == 30
