"""Sequence tracking: how many datagrams and samples an sFlow agent sent that we never saw.

Two sequence numbers tell us about loss (sflow_version_5.txt):

* the datagram ``sequence_number``, one counter per (agent address, sub-agent id);
* the flow sample ``sequence_number``, one counter per sFlow instance (its ``source_id``),
  together with ``sample_pool`` (packets the instance saw) and ``drops`` (samples the agent
  itself had to throw away).

Counters are 32-bit and wrap, so every difference is taken modulo 2**32. An agent that
restarts starts again from 1 with a small uptime; a naive ``new - old - 1`` would then count
four billion lost datagrams. We call it a restart instead when the uptime went backwards
(by more than ``UPTIME_SLACK_MS``), or when the jump is implausible: backwards by more than
the reorder window, or forwards by more than the agent could have sent since the last
datagram. A datagram a little behind the newest one is a late (reordered) arrival: it was
already counted lost when the gap opened, so it is taken back off the loss count.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

MASK32 = 0xFFFFFFFF
HALF32 = 0x80000000
#: A datagram or sample at most this far behind the newest one is a late arrival.
REORDER_WINDOW = 1024
#: Uptime may go back this much between datagrams of one agent without meaning a restart
#: (sub-agents on line cards stamp uptime themselves; late datagrams carry older stamps).
UPTIME_SLACK_MS = 10_000
#: More datagrams per millisecond of uptime than any agent sends; a bigger forward jump
#: is a restart or a different agent behind the same address, not loss.
MAX_DATAGRAMS_PER_MS = 100
#: Forward jump always accepted as loss, whatever the uptime says (coarse uptime clocks).
MIN_PLAUSIBLE_GAP = 100_000

# What a sequence number that is not the expected one turned out to be.
GAP = 1  # some were lost in between
LATE = 2  # behind the newest: a reordered (or duplicated) arrival
DUPLICATE = 3  # exactly the newest again (datagrams only)
RESTART = 4  # the counter started over: agent restart or source reset


@dataclass(slots=True)
class SourceState:
    """One sFlow instance (source_id) of one agent: flow samples seen and missed."""

    next_seq: int
    pool: int
    drops: int
    rate: int
    #: Sequence number and sample_pool of the first sample seen (or since the last reset).
    first_seq: int = 0
    first_pool: int = 0
    samples: int = 1
    #: Flow samples the sequence numbers say were sent but never arrived.
    lost: int = 0
    #: Packets the instance observed since we first heard of it (``sample_pool`` deltas).
    pool_packets: int = 0
    #: Samples the agent itself dropped (``drops`` deltas).
    agent_drops: int = 0
    reordered: int = 0
    resets: int = 0

    def gap(self, seq: int, pool: int, drops: int, rate: int) -> tuple[int, int]:
        """Slow path for a sample whose sequence number is not the expected one.

        Returns (change of the lost count, GAP | LATE | RESTART). A late arrival takes one
        back off the lost count. The sample itself is counted here.
        """
        self.samples += 1
        gap = (seq - self.next_seq) & MASK32
        pool_delta = (pool - self.pool) & MASK32
        # Plausible loss: forward, and no more samples missing than packets went by.
        if gap < HALF32 and (gap < pool_delta or (pool_delta == 0 and gap <= MIN_PLAUSIBLE_GAP)):
            self.lost += gap
            self.pool_packets += pool_delta
            self.agent_drops += (drops - self.drops) & MASK32
            self.next_seq, self.pool, self.drops, self.rate = (seq + 1) & MASK32, pool, drops, rate
            return gap, GAP
        behind = (self.next_seq - 1 - seq) & MASK32
        if behind < REORDER_WINDOW:
            # Late or duplicated sample: counted as lost when the gap opened. Its pool and
            # drops are older than ours, so they are not used.
            self.reordered += 1
            if self.lost:
                self.lost -= 1
                return -1, LATE
            return 0, LATE
        # The instance was reset (sampling reconfigured, line card restart): start over.
        self.resets += 1
        self.next_seq, self.pool, self.drops, self.rate = (seq + 1) & MASK32, pool, drops, rate
        self.first_seq, self.first_pool = seq, pool
        return 0, RESTART


@dataclass(slots=True)
class AgentState:
    """One (agent address, sub-agent id): datagrams seen and missed, and its sources."""

    key: bytes
    last_seq: int
    last_uptime: int
    #: Sequence number of the first datagram seen (or since the last restart).
    first_seq: int = 0
    datagrams: int = 1
    lost: int = 0
    restarts: int = 0
    reordered: int = 0
    duplicates: int = 0
    sources: dict[int, SourceState] = field(default_factory=dict)

    @property
    def address(self) -> str:
        """Agent address as text ("" when the agent sent address type 0, unknown)."""
        addr = self.key[4:-4]
        if len(addr) in (4, 16):
            return str(ipaddress.ip_address(addr))
        return ""

    @property
    def sub_agent_id(self) -> int:
        return int.from_bytes(self.key[-4:], "big")

    @property
    def flow_samples(self) -> int:
        return sum(s.samples for s in list(self.sources.values()))

    @property
    def samples_lost(self) -> int:
        return sum(s.lost for s in list(self.sources.values()))

    def datagram(self, seq: int, uptime: int) -> tuple[int, int]:
        """Account for a datagram that is not the first of this agent.

        Returns (change of the lost count, 0 | GAP | LATE | DUPLICATE | RESTART).
        """
        self.datagrams += 1
        gap = (seq - self.last_seq - 1) & MASK32
        up_back = (self.last_uptime - uptime) & MASK32
        uptime_reset = 0 < up_back < HALF32 and up_back > UPTIME_SLACK_MS
        if not uptime_reset:
            if gap == 0:
                self.last_seq, self.last_uptime = seq, uptime
                return 0, 0
            elapsed = (uptime - self.last_uptime) & MASK32
            if elapsed >= HALF32:
                elapsed = 0
            if gap < HALF32 and gap <= max(MIN_PLAUSIBLE_GAP, elapsed * MAX_DATAGRAMS_PER_MS):
                self.lost += gap
                self.last_seq, self.last_uptime = seq, uptime
                return gap, GAP
            behind = (self.last_seq - seq) & MASK32
            if behind == 0:
                self.duplicates += 1
                return 0, DUPLICATE
            if behind < REORDER_WINDOW:
                self.reordered += 1
                if self.lost:
                    self.lost -= 1
                    return -1, LATE
                return 0, LATE
        self.restarts += 1
        self.last_seq, self.last_uptime, self.first_seq = seq, uptime, seq
        # Sample sequence numbers restart with the agent; old source state would read
        # the restart as a huge gap.
        self.sources.clear()
        return 0, RESTART


@dataclass(slots=True)
class SourceSummary:
    """Read-only view of one sFlow instance (data source) of an agent."""

    source_id_type: int
    source_id_index: int
    first_sequence: int
    last_sequence: int
    samples: int
    samples_lost: int
    #: Packets the instance observed between the first and the last sample seen.
    pool_packets: int
    last_sample_pool: int
    agent_drops: int
    sampling_rate: int
    resets: int
    reordered: int

    @classmethod
    def of(cls, key: int, src: SourceState) -> SourceSummary:
        return cls(
            source_id_type=key >> 32,
            source_id_index=key & MASK32,
            first_sequence=src.first_seq,
            last_sequence=(src.next_seq - 1) & MASK32,
            samples=src.samples,
            samples_lost=src.lost,
            pool_packets=src.pool_packets,
            last_sample_pool=src.pool,
            agent_drops=src.agent_drops,
            sampling_rate=src.rate,
            resets=src.resets,
            reordered=src.reordered,
        )


@dataclass(slots=True)
class AgentSummary:
    """Read-only view of one agent for stats endpoints and logs."""

    address: str
    sub_agent_id: int
    datagrams: int
    datagrams_lost: int
    restarts: int
    flow_samples: int
    samples_lost: int
    agent_drops: int
    first_sequence: int
    last_sequence: int
    sources: list[SourceSummary]

    @classmethod
    def of(cls, agent: AgentState) -> AgentSummary:
        sources = list(agent.sources.items())  # one step: safe against a decoding thread
        return cls(
            address=agent.address,
            sub_agent_id=agent.sub_agent_id,
            datagrams=agent.datagrams,
            datagrams_lost=agent.lost,
            restarts=agent.restarts,
            flow_samples=sum(s.samples for _, s in sources),
            samples_lost=sum(s.lost for _, s in sources),
            agent_drops=sum(s.agent_drops for _, s in sources),
            first_sequence=agent.first_seq,
            last_sequence=agent.last_seq,
            sources=[SourceSummary.of(k, s) for k, s in sources],
        )
