"""The unidirectional TCP state machine, run over whole batches.

flowtrackd sees one direction only: Magic Transit routes the customer's replies straight to
the Internet, so only client->customer packets pass Cloudflare (blog.cloudflare.com,
"flowtrackd: DDoS Protection with Unidirectional TCP Flow Tracking", 2020). The state of a
connection is inferred from the remote end's packets alone: its SYN (or SYN-ACK, when the
customer opened the connection), the ACK that completes the handshake, its sequence and
acknowledgement numbers, its FIN and the ACK that follows the customer's FIN, or an RST.
The transition table is in docs/flowtrackd.md; ``_general_step`` is its literal code.

Batch evaluation: packets are grouped by connection (stable sort by key keeps time order
inside a group) and the groups advance together in rounds. In each round every group takes
either one packet through ``_general_step`` or a whole run of packets whose outcome can be
computed at once and equals stepping them one by one:

- no entry, no SYN/SYN-ACK: all NOT_FOUND;
- NEW/OPEN/CLOSING, invalid flags: all UNEXPECTED (until the entry would expire);
- CLOSED, no SYN/SYN-ACK: each tolerated or ALREADY_CLOSED, the state does not move;
- a run of SYNs (or SYN-ACKs) that (re)start a connection: each challenged or passed, the
  last one sets the state;
- OPEN, plain ACK/data packets: validity against running maxima of the sequence and
  acknowledgement numbers, computed with segmented cumulative maxima. Validity is first
  judged against the state at the start of the run; the first packet where that differs
  from the running state ends the round for its group (later packets are re-judged), so
  the result is exact; typically the whole run is settled in one round.

A connection needs a handful of rounds per batch (handshake, data, close). A 4-tuple that
receives more than ``MAX_ROUNDS`` state changes in one batch can only be an attack on that
tuple; its remaining packets are judged against the state reached so far, without changing
it (counted as ``frozen``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from netlogpush.mitigation.flowtrackd.config import TrackerConfig
from netlogpush.mitigation.flowtrackd.table import SlotTable

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

# Connection states (ProtocolState); ABSENT is "no entry".
ABSENT, NEW, OPEN, CLOSING, CLOSED = 0, 1, 2, 3, 4
STATE_NAMES = ("", "NEW", "OPEN", "CLOSING", "CLOSED")

# Packet classes by TCP flags.
SYN, SYNACK, PLAIN, FIN, RST, BAD = 0, 1, 2, 3, 4, 5

# What the state machine says about a packet (MitigationReason when it is dropped).
PASS, CHALLENGE_NEEDED, CHALLENGE_PASSED, NOT_FOUND, OUT_OF_SEQUENCE, ALREADY_CLOSED, UNEXPECTED = (
    range(7)
)
KIND_NAMES = (
    "",
    "CHALLENGE_NEEDED",
    "CHALLENGE_PASSED",
    "NOT_FOUND",
    "OUT_OF_SEQUENCE",
    "ALREADY_CLOSED",
    "UNEXPECTED",
)
OUT_OF_STATE = (NOT_FOUND, OUT_OF_SEQUENCE, ALREADY_CLOSED, UNEXPECTED)

# Entry flags.
F_SYNACK = 1  # opened by a SYN-ACK: the customer initiated the connection
F_ACK = 2  # the acknowledgement number is known (``a`` is meaningful)
F_CHAL = 4  # the last SYN was challenged; the handshake's ACK answers it
F_VERIFIED = 8  # the 4-tuple answered a challenge
F_RST = 16  # closed by an RST

MOD = np.int64(1 << 32)
MASK32 = np.int64(0xFFFFFFFF)
HALF = np.int64(1 << 31)
MAX_ROUNDS = 64
_BIG = np.iinfo(np.int64).max


def classify(flags: npt.NDArray[np.integer]) -> npt.NDArray[np.int8]:
    """Packet class from the TCP flags (FIN 1, SYN 2, RST 4, ACK 16)."""
    f = flags.astype(np.int64)
    fin, syn, rst, ack = (f & 1) != 0, (f & 2) != 0, (f & 4) != 0, (f & 16) != 0
    out = np.full(f.shape[0], BAD, np.int8)
    out[syn & ~rst & ~fin] = SYN
    out[syn & ~rst & ~fin & ack] = SYNACK
    out[rst & ~syn & ~fin] = RST
    out[fin & ack & ~syn & ~rst] = FIN
    out[ack & ~syn & ~rst & ~fin] = PLAIN
    return out


def sdiff(x: I64, y: I64 | np.int64) -> I64:
    """``x - y`` on 32-bit sequence numbers, as a signed value in [-2^31, 2^31)."""
    out: I64 = ((x - y + HALF) & MASK32) - HALF
    return out


@dataclass(slots=True)
class Packets:
    """The tracked packets of a batch, sorted by connection, as int64 columns."""

    cls: npt.NDArray[np.int8]
    seq: I64
    ack: I64
    plen: I64
    ts: I64
    chal: Mask  # a SYN/SYN-ACK here would be challenged (SYN protection on and over threshold)
    synon: Mask  # SYN protection is not disabled for this packet


@dataclass(slots=True)
class States:
    """One connection state per group of the batch."""

    st: I64
    fl: I64
    isn: I64
    h: I64  # next expected sequence number (highest seq + length seen; FIN counts one)
    a: I64  # highest acknowledgement number seen
    last: I64  # time of the last packet that was valid for the connection

    @classmethod
    def empty(cls, n: int) -> States:
        z = np.zeros(n, np.int64)
        return cls(z.copy(), z.copy(), z.copy(), z.copy(), z.copy(), z.copy())

    def take(self, g: I64) -> States:
        return States(self.st[g], self.fl[g], self.isn[g], self.h[g], self.a[g], self.last[g])

    def put(self, g: I64, other: States) -> None:
        self.st[g], self.fl[g], self.isn[g] = other.st, other.fl, other.isn
        self.h[g], self.a[g], self.last[g] = other.h, other.a, other.last


def runs(starts: I64, ends: I64) -> tuple[I64, I64, I64]:
    """Concatenated ``range(start, end)`` per run: (indices, run id, run offset)."""
    lens = ends - starts
    offs = np.cumsum(lens) - lens
    rid = np.repeat(np.arange(starts.shape[0], dtype=np.int64), lens)
    idx = starts[rid] + (np.arange(int(lens.sum()), dtype=np.int64) - offs[rid])
    return idx, rid, offs


def first_true(mask: Mask, rid: I64, offs: I64, lens: I64) -> I64:
    """Per run (none empty), the position within the run of its first True, or its length."""
    local = np.arange(mask.shape[0], dtype=np.int64) - offs[rid]
    res: I64 = np.minimum(np.minimum.reduceat(np.where(mask, local, _BIG), offs), lens)
    return res


def seg_exclusive_max(values: I64, rid: I64, offs: I64, floor: I64) -> I64:
    """Per element, the max of the earlier values of its run, and at least the run's
    ``floor`` (which is all a run's first element gets).

    One ``maximum.accumulate`` over the whole array: each run's values are lifted by
    ``rid · span`` (span: the value range), so a run never sees an earlier run's values.
    """
    low = int(values.min())
    span = int(values.max()) - low + 1
    if span * int(offs.shape[0]) < 1 << 62:
        shift = rid * np.int64(span)
        inclusive = np.maximum.accumulate(values - low + shift) - shift + low
    else:  # values spread too far to lift (never for sequence offsets): run by run
        inclusive = np.concatenate(
            [
                np.maximum.accumulate(values[a:b])
                for a, b in itertools.pairwise([*offs.tolist(), values.shape[0]])
            ]
        )
    out = np.empty_like(values)
    out[1:] = inclusive[:-1]
    out[offs] = floor
    res: I64 = np.maximum(out, floor[rid])
    return res


def group_order(keys: U64) -> I64:
    """A stable order that groups equal keys (ascending keys, arrival order within a key).

    Sorting values is faster than ``argsort``: each key's top bits are joined with its
    position into one unique 64-bit value and those are sorted. Two different keys that
    share the top bits would interleave; that is checked (for random 64-bit hashes it
    happens in about one batch in 10^5) and then a plain stable argsort is used.
    """
    n = keys.shape[0]
    bits = max(n - 1, 1).bit_length()
    low = np.uint64((1 << bits) - 1)
    packed = np.sort((keys & ~low) | np.arange(n, dtype=np.uint64))
    order: I64 = (packed & low).astype(np.int64)
    k = keys[order]
    top = k & ~low
    if bool(((top[1:] == top[:-1]) & (k[1:] != k[:-1])).any()):
        order = np.argsort(keys, kind="stable")
    return order


class Tracker:
    """Connection states across batches, in a bounded ``SlotTable``."""

    def __init__(self, config: TrackerConfig) -> None:
        self.configure(config)
        # Record words: last-seen time; isn | h << 32; a | state << 32 | flags << 40.
        self.table = SlotTable(config.table_capacity, 3)
        self.force_general = False  # tests: step every packet on its own
        self.max_rounds = MAX_ROUNDS
        self.stats = {"rounds": 0, "frozen": 0, "inserted": 0, "not_stored": 0, "freed": 0}

    def configure(self, config: TrackerConfig) -> None:
        """Timeouts and window (the table stays: a reload keeps the connections)."""
        self.config = config
        self.window = np.int64(config.seq_window)
        self.timeout = np.array(
            [
                _BIG,
                round(config.new_timeout * 1e9),
                round(config.open_timeout * 1e9),
                round(config.closing_timeout * 1e9),
                round(config.closed_timeout * 1e9),
            ],
            np.int64,
        )

    # -- the batch ------------------------------------------------------------------------

    def process(
        self,
        keys: U64,
        cls: npt.NDArray[np.int8],
        seq: I64,
        ack: I64,
        plen: I64,
        ts: I64,
        chal: Mask,
        synon: Mask,
    ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]]:
        """Per packet (in the order given): what the state machine says, and the state after."""
        n = keys.shape[0]
        kind_s = np.zeros(n, np.int8)
        lst_s = np.zeros(n, np.int8)
        if n == 0:
            return kind_s, lst_s
        order = group_order(keys)
        k = keys[order]
        P = Packets(
            cls[order], seq[order], ack[order], plen[order], ts[order], chal[order], synon[order]
        )
        start = np.ones(n, np.bool_)
        start[1:] = k[1:] != k[:-1]
        gstart = np.flatnonzero(start)
        gend = np.append(gstart[1:], n)
        gid = np.cumsum(start) - 1
        S, slots = self._load(k[gstart])
        nxt = self._next_tables(P.cls, gid, gend)
        self._rounds(S, P, gstart, gend, nxt, kind_s, lst_s)
        self._store(k[gstart], slots, S)
        kind = np.empty(n, np.int8)
        lst = np.empty(n, np.int8)
        kind[order], lst[order] = kind_s, lst_s
        return kind, lst

    def _load(self, keys: U64) -> tuple[States, I64]:
        slots = self.table.lookup(keys)
        S = States.empty(keys.shape[0])
        hit = np.flatnonzero(slots >= 0)
        stored = self.table.read(slots[hit])
        w1, w2 = stored[:, 1], stored[:, 2]
        S.last[hit] = stored[:, 0]
        S.isn[hit] = w1 & MASK32
        S.h[hit] = (w1 >> 32) & MASK32
        S.a[hit] = w2 & MASK32
        S.st[hit] = (w2 >> 32) & 0xFF
        S.fl[hit] = (w2 >> 40) & 0xFF
        return S, slots

    def _store(self, keys: U64, slots: I64, S: States) -> None:
        values = np.stack([S.last, S.isn | (S.h << 32), S.a | (S.st << 32) | (S.fl << 40)], axis=1)
        live = S.st != ABSENT
        keep = np.flatnonzero((slots >= 0) & live)
        self.table.write(slots[keep], values[keep])
        gone = slots[(slots >= 0) & ~live]
        self.table.clear(gone)
        self.stats["freed"] += int(gone.size)
        fresh = np.flatnonzero((slots < 0) & live)
        if not fresh.size:
            return
        established = (S.st[fresh] == OPEN) | (S.st[fresh] == CLOSING)
        # Established connections claim slots first; they may evict the least recently seen
        # established entry, an unestablished newcomer never evicts an established one.
        fresh = fresh[np.argsort(~established, kind="stable")]
        established = (S.st[fresh] == OPEN) | (S.st[fresh] == CLOSING)
        limit = np.where(established, _BIG, np.int64(2) << 61)
        placed = self.table.place(
            keys[fresh],
            values[fresh],
            self._score,
            S.last[fresh],
            limit,
        )
        self.stats["inserted"] += int(np.count_nonzero(placed >= 0))
        self.stats["not_stored"] += int(np.count_nonzero(placed < 0))

    def _score(self, slots: I64, now: I64) -> I64:
        """Eviction order: expired, then NEW/CLOSED, then OPEN/CLOSING; older first."""
        rows = self.table.read(slots.reshape(-1))
        st = ((rows[:, 2] >> 32) & 0xFF).reshape(slots.shape)
        last = rows[:, 0].reshape(slots.shape)
        expired = now - last > self.timeout[st]
        rank = np.where((st == OPEN) | (st == CLOSING), 2, 1)
        rank = np.where(expired, 0, rank)
        age = np.clip(last, 0, (np.int64(1) << 61) - 1)
        out: I64 = (rank.astype(np.int64) << 61) + age
        return out

    @staticmethod
    def _next_tables(cls: npt.NDArray[np.int8], gid: I64, gend: I64) -> dict[str, I64]:
        """For each packet (sorted order): where its run of one class ends, and where the
        next SYN or SYN-ACK of its connection is (the group's end if none)."""
        n = cls.shape[0]
        idx = np.arange(n, dtype=np.int64)
        end = gend[gid]
        is_start = (cls == SYN) | (cls == SYNACK)
        marked = np.where(is_start, idx, _BIG)
        next_start = np.minimum(np.minimum.accumulate(marked[::-1])[::-1], end)
        boundary = np.ones(n + 1, np.bool_)
        boundary[1:n] = (cls[1:] != cls[:-1]) | (gid[1:] != gid[:-1])
        after = np.where(boundary, np.arange(n + 1, dtype=np.int64), _BIG)
        class_end = np.minimum.accumulate(after[::-1])[::-1][1:]
        return {"start": next_start, "class_end": np.minimum(class_end, end)}

    def _rounds(
        self,
        S: States,
        P: Packets,
        gstart: I64,
        gend: I64,
        nxt: dict[str, I64],
        kind: npt.NDArray[np.int8],
        lst: npt.NDArray[np.int8],
    ) -> None:
        pos = gstart.copy()
        for _ in range(self.max_rounds):
            act = np.flatnonzero(pos < gend)
            if not act.size:
                return
            self.stats["rounds"] += 1
            p = pos[act]
            self._expire(S, act, P.ts[p])
            s = S.st[act]
            c = P.cls[p]
            if self.force_general:
                self._single(S, P, act, p, kind, lst)
                pos[act] = p + 1
                continue
            is_start = (c == SYN) | (c == SYNACK)
            sa_init = (S.fl[act] & F_SYNACK) != 0
            same = ((c == SYN) & ~sa_init) | ((c == SYNACK) & sa_init)
            m_nf = (s == ABSENT) & ~is_start
            m_bad = ((s == NEW) | (s == OPEN) | (s == CLOSING)) & (c == BAD)
            m_closed = (s == CLOSED) & ~is_start
            m_open = (s == OPEN) & (c == PLAIN)
            m_start = is_start & ((s == ABSENT) | (s == CLOSED) | ((s == NEW) & same))
            m_gen = ~(m_nf | m_bad | m_closed | m_open | m_start)
            for mask, handler in (
                (m_nf, self._bulk_not_found),
                (m_bad, self._bulk_unexpected),
                (m_closed, self._bulk_closed),
                (m_open, self._bulk_open),
                (m_start, self._bulk_start),
            ):
                if mask.any():
                    g = act[mask]
                    pos[g] = handler(S, P, g, p[mask], nxt, gend[g], kind, lst)
            if m_gen.any():
                g = act[m_gen]
                self._single(S, P, g, p[m_gen], kind, lst)
                pos[g] = p[m_gen] + 1
        left = np.flatnonzero(pos < gend)
        if left.size:
            self._frozen(S, P, left, pos[left], gend[left], kind, lst)

    def _expire(self, S: States, g: I64, ts: I64) -> None:
        st = S.st[g]
        dead = (st != ABSENT) & (ts - S.last[g] > self.timeout[st])
        if dead.any():
            S.st[g[dead]] = ABSENT
            S.fl[g[dead]] = 0

    # -- one packet per group ---------------------------------------------------------------

    def _single(
        self,
        S: States,
        P: Packets,
        g: I64,
        p: I64,
        kind: npt.NDArray[np.int8],
        lst: npt.NDArray[np.int8],
    ) -> None:
        new, k, ls = self._general_step(S.take(g), P, p)
        S.put(g, new)
        kind[p], lst[p] = k, ls

    def _frozen(
        self,
        S: States,
        P: Packets,
        g: I64,
        pos: I64,
        ends: I64,
        kind: npt.NDArray[np.int8],
        lst: npt.NDArray[np.int8],
    ) -> None:
        idx, rid, _ = runs(pos, ends)
        self.stats["frozen"] += int(idx.size)
        before = S.take(g[rid])
        dead = (before.st != ABSENT) & (P.ts[idx] - before.last > self.timeout[before.st])
        before.st[dead] = ABSENT
        before.fl[dead] = 0
        _, k, ls = self._general_step(before, P, idx)
        kind[idx], lst[idx] = k, ls

    def _general_step(
        self, S: States, P: Packets, p: I64
    ) -> tuple[States, npt.NDArray[np.int8], npt.NDArray[np.int8]]:
        """The transition table (docs/flowtrackd.md), one packet per entry of ``S``."""
        W = self.window
        s, f, isn, h, a = S.st, S.fl, S.isn, S.h, S.a
        c, seq, ack, plen, ts = P.cls[p], P.seq[p], P.ack[p], P.plen[p], P.ts[p]
        chal, synon = P.chal[p], P.synon[p]
        out = States(s.copy(), f.copy(), isn.copy(), h.copy(), a.copy(), S.last.copy())
        kind = np.full(p.shape[0], PASS, np.int8)
        ls = s.astype(np.int8)

        is_start = (c == SYN) | (c == SYNACK)
        is_sa = c == SYNACK
        fin = c == FIN
        sa_init = (f & F_SYNACK) != 0
        same = ((c == SYN) & ~sa_init) | (is_sa & sa_init)
        rs = sdiff(seq, h)
        ra = sdiff(ack, a)
        ack_ok = np.abs(ra) <= W
        ack_ok_or_unknown = ack_ok | ((f & F_ACK) == 0)
        end = (seq + plen + fin) & MASK32
        grow_a = (a + np.maximum(ra, 0)) & MASK32

        def settle(m: Mask, k: int | npt.NDArray[np.int8], state: int | I64 | None = None) -> None:
            kind[m] = k[m] if isinstance(k, np.ndarray) else k
            if state is not None:
                st_val = state[m] if isinstance(state, np.ndarray) else state
                out.st[m] = st_val
                ls[m] = st_val

        # (Re)start: SYN or SYN-ACK with no entry, after CLOSED, or repeated in NEW.
        m = is_start & ((s == ABSENT) | (s == CLOSED) | ((s == NEW) & same))
        verified = np.where(s == ABSENT, 0, f & F_VERIFIED)
        chal_now = chal & (verified == 0)
        settle(m, np.where(chal_now, CHALLENGE_NEEDED, PASS).astype(np.int8), NEW)
        out.fl[m] = (
            verified | np.where(is_sa, F_SYNACK | F_ACK, 0) | np.where(chal_now, F_CHAL, 0)
        )[m]
        out.isn[m], out.h[m] = seq[m], ((seq + 1) & MASK32)[m]
        out.a[m] = np.where(is_sa, ack, 0)[m]
        out.last[m] = ts[m]
        # SYN/SYN-ACK on a connection in progress: a retransmission, or unexpected.
        m = is_start & ~m & (s != ABSENT)
        again = same & (seq == isn) & ((s == OPEN) | (s == CLOSING))
        settle(m, np.where(again, PASS, UNEXPECTED).astype(np.int8))

        # NEW: the ACK (or data, or FIN) that completes the handshake.
        m = (s == NEW) & ((c == PLAIN) | fin)
        ok = (rs >= 0) & (rs <= W) & ack_ok_or_unknown
        v = m & ok
        answered = ((f & F_CHAL) != 0) & synon
        after = np.where(fin, CLOSING, OPEN)
        settle(v, np.where(answered, CHALLENGE_PASSED, PASS).astype(np.int8), after)
        out.fl[v] = ((np.where(answered, f | F_VERIFIED, f) & ~F_CHAL) | F_ACK)[v]
        out.h[v], out.a[v], out.last[v] = end[v], ack[v], ts[v]
        settle(m & ~ok, OUT_OF_SEQUENCE)

        # RST while NEW, OPEN or CLOSING: closes if in window.
        m = (c == RST) & ((s == NEW) | (s == OPEN) | (s == CLOSING))
        ok = np.abs(rs) <= W
        v = m & ok
        settle(v, PASS, CLOSED)
        out.fl[v] = (f | F_RST)[v]
        out.h[v], out.last[v] = seq[v], ts[v]
        settle(m & ~ok, OUT_OF_SEQUENCE)

        # OPEN: ACK/data in window.
        m = (s == OPEN) & (c == PLAIN)
        ok = (np.abs(rs) <= W) & ack_ok
        v = m & ok
        settle(v, PASS)
        out.h[v] = ((h + np.maximum(sdiff(end, h), 0)) & MASK32)[v]
        out.a[v], out.last[v] = grow_a[v], ts[v]
        settle(m & ~ok, OUT_OF_SEQUENCE)

        # OPEN: FIN at or beyond everything seen so far.
        m = (s == OPEN) & fin
        r_end = sdiff((seq + plen) & MASK32, h)
        ok = (r_end >= 0) & (r_end <= W) & ack_ok
        v = m & ok
        settle(v, PASS, CLOSING)
        out.h[v], out.a[v], out.last[v] = end[v], grow_a[v], ts[v]
        settle(m & ~ok, OUT_OF_SEQUENCE)

        # CLOSING: data retransmitted from before the FIN, or ACKs; the ACK that follows the
        # FIN and acknowledges something new (the customer's FIN) completes the close.
        m = (s == CLOSING) & (c == PLAIN)
        data = plen > 0
        before_fin = sdiff((seq + plen) & MASK32, (h - 1) & MASK32) <= 0
        ok = ack_ok & (rs >= -W) & np.where(data, before_fin, rs <= 0)
        final = ~data & (rs == 0) & (ra > 0)
        v = m & ok
        settle(v, PASS, np.where(final, CLOSED, CLOSING))
        out.a[v], out.last[v] = grow_a[v], ts[v]
        settle(m & ~ok, OUT_OF_SEQUENCE)

        # CLOSING: the FIN again.
        m = (s == CLOSING) & fin
        ok = (sdiff(end, h) == 0) & ack_ok
        v = m & ok
        settle(v, PASS)
        out.last[v] = ts[v]
        settle(m & ~ok, OUT_OF_SEQUENCE)

        # CLOSED: a repeated final ACK or an RST is tolerated; anything else is too late.
        m = (s == CLOSED) & ~is_start
        tolerated = ((c == PLAIN) & ~data & ((f & F_RST) == 0) & (rs == 0) & ack_ok) | (
            (c == RST) & (np.abs(rs) <= W)
        )
        settle(m, np.where(tolerated, PASS, ALREADY_CLOSED).astype(np.int8))

        # No entry and not opening one; invalid flags on a live connection.
        settle((s == ABSENT) & ~is_start, NOT_FOUND)
        settle(((s == NEW) | (s == OPEN) | (s == CLOSING)) & (c == BAD), UNEXPECTED)
        return out, kind, ls

    # -- runs -------------------------------------------------------------------------------

    def _bulk_not_found(
        self,
        S: States,
        P: Packets,
        g: I64,
        p: I64,
        nxt: dict[str, I64],
        ends: I64,
        kind: npt.NDArray[np.int8],
        lst: npt.NDArray[np.int8],
    ) -> I64:
        stop = nxt["start"][p]
        idx, _, _ = runs(p, stop)
        kind[idx] = NOT_FOUND
        lst[idx] = ABSENT
        return stop

    def _until_expiry(self, S: States, P: Packets, g: I64, p: I64, stop: I64) -> I64:
        """The end of run ``[p, stop)`` cut where the (unrefreshed) entry of ``g`` expires."""
        idx, rid, offs = runs(p, stop)
        dead = P.ts[idx] - S.last[g][rid] > self.timeout[S.st[g]][rid]
        out: I64 = p + first_true(dead, rid, offs, stop - p)
        return out

    def _bulk_unexpected(
        self,
        S: States,
        P: Packets,
        g: I64,
        p: I64,
        nxt: dict[str, I64],
        ends: I64,
        kind: npt.NDArray[np.int8],
        lst: npt.NDArray[np.int8],
    ) -> I64:
        stop = self._until_expiry(S, P, g, p, nxt["class_end"][p])
        idx, rid, _ = runs(p, stop)
        kind[idx] = UNEXPECTED
        lst[idx] = S.st[g][rid]
        return stop

    def _bulk_closed(
        self,
        S: States,
        P: Packets,
        g: I64,
        p: I64,
        nxt: dict[str, I64],
        ends: I64,
        kind: npt.NDArray[np.int8],
        lst: npt.NDArray[np.int8],
    ) -> I64:
        stop = self._until_expiry(S, P, g, p, nxt["start"][p])
        idx, rid, _ = runs(p, stop)
        if idx.size:
            _, k, ls = self._general_step(S.take(g[rid]), P, idx)
            kind[idx], lst[idx] = k, ls
        return stop

    def _bulk_start(
        self,
        S: States,
        P: Packets,
        g: I64,
        p: I64,
        nxt: dict[str, I64],
        ends: I64,
        kind: npt.NDArray[np.int8],
        lst: npt.NDArray[np.int8],
    ) -> I64:
        stop = nxt["class_end"][p]
        idx, rid, offs = runs(p, stop)
        c = P.cls[p]
        verified0 = np.where(S.st[g] == ABSENT, 0, S.fl[g] & F_VERIFIED)
        # Each SYN refreshes the entry; a gap longer than the NEW timeout lets it expire
        # (and the verification with it) before the next one.
        ts = P.ts[idx]
        prev = np.empty_like(ts)
        prev[1:] = ts[:-1]
        gap = (ts - prev > self.timeout[NEW]).astype(np.int64)
        gap[offs] = 0
        lapsed = seg_exclusive_max(gap, rid, offs, np.zeros(p.shape[0], np.int64))
        lapsed = np.maximum(lapsed, gap)
        verified = np.where(lapsed > 0, 0, verified0[rid])
        chal_now = P.chal[idx] & (verified == 0)
        kind[idx] = np.where(chal_now, CHALLENGE_NEEDED, PASS)
        lst[idx] = NEW
        tail = stop - 1
        tail_local = tail - p + offs
        is_sa = c == SYNACK
        S.st[g] = NEW
        S.fl[g] = (
            verified[tail_local]
            | np.where(is_sa, F_SYNACK | F_ACK, 0)
            | np.where(chal_now[tail_local], F_CHAL, 0)
        )
        S.isn[g] = P.seq[tail]
        S.h[g] = (P.seq[tail] + 1) & MASK32
        S.a[g] = np.where(is_sa, P.ack[tail], 0)
        S.last[g] = P.ts[tail]
        return stop

    def _bulk_open(
        self,
        S: States,
        P: Packets,
        g: I64,
        p: I64,
        nxt: dict[str, I64],
        ends: I64,
        kind: npt.NDArray[np.int8],
        lst: npt.NDArray[np.int8],
    ) -> I64:
        W = self.window
        T = self.timeout[OPEN]
        stop = nxt["class_end"][p]
        lens = stop - p
        idx, rid, offs = runs(p, stop)
        h0, a0, last0 = S.h[g], S.a[g], S.last[g]
        seq, ack, plen, ts = P.seq[idx], P.ack[idx], P.plen[idx], P.ts[idx]
        rs = sdiff(seq, h0[rid])
        ra = sdiff(ack, a0[rid])
        rend = rs + plen
        # Validity against the state at the start of the run ...
        v = (np.abs(rs) <= W) & (np.abs(ra) <= W) & (ts - last0[rid] <= T)
        neg = np.int64(-(1 << 40))
        local = np.arange(idx.shape[0], dtype=np.int64) - offs[rid]
        half = W // 2
        easy = v & (np.abs(rs) <= half) & (rend <= half) & (np.abs(ra) <= half)
        if easy.all():
            # The usual case: every packet is valid against the start state with room to
            # spare, so it stays valid whatever the packets before it moved (the running
            # maxima stay within half a window); no running state is needed.
            valid = np.ones(idx.shape[0], np.bool_)
            kind[idx] = PASS
            lst[idx] = OPEN
            has_k = np.zeros(p.shape[0], np.bool_)
            k = lens
            k_exp = has_k
        else:
            zero = np.zeros(p.shape[0], np.int64)
            H = seg_exclusive_max(np.where(v, rend, neg), rid, offs, zero)
            A = seg_exclusive_max(np.where(v, ra, neg), rid, offs, zero)
            latest = seg_exclusive_max(
                np.where(v, local, -1), rid, offs, np.full(p.shape[0], -1, np.int64)
            )
            last_seen = np.where(latest >= 0, P.ts[p[rid] + np.maximum(latest, 0)], last0[rid])
            # ... and against the running state those packets build up.
            cv = (np.abs(sdiff(rs, H)) <= W) & (np.abs(sdiff(ra, A)) <= W)
            expired = ts - last_seen > T
            k = first_true(expired | (cv != v), rid, offs, lens)
            k_exp = np.zeros(p.shape[0], np.bool_)
            has_k = k < lens
            k_exp[has_k] = expired[offs[has_k] + k[has_k]]
            processed = (local < k[rid]) | ((local == k[rid]) & ~k_exp[rid])
            valid = np.where(local < k[rid], v, cv) & processed
            done = idx[processed]
            kind[done] = np.where(valid[processed], PASS, OUT_OF_SEQUENCE)
            lst[done] = OPEN
        # The state after the processed packets (runs are never empty: reduceat works).
        top_h = np.maximum(np.maximum.reduceat(np.where(valid, rend, neg), offs), 0)
        top_a = np.maximum(np.maximum.reduceat(np.where(valid, ra, neg), offs), 0)
        newest = np.maximum.reduceat(np.where(valid, local, -1), offs)
        S.h[g] = (h0 + top_h) & MASK32
        S.a[g] = (a0 + top_a) & MASK32
        S.last[g] = np.where(newest >= 0, P.ts[p + np.maximum(newest, 0)], last0)
        if k_exp.any():
            S.st[g[k_exp]] = ABSENT
            S.fl[g[k_exp]] = 0
        out: I64 = p + np.where(has_k, k + (~k_exp).astype(np.int64), lens)
        return out
