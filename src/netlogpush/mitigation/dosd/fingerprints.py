"""Fingerprints: a destination, a traffic class and header values the attack packets share.

A fingerprint is what a mitigation matches. It is built from a window of sampled packets
to one hot destination (``candidates``): for each header field of the class, the values
that carry a large rate (at most ``max_values`` of them, else the field is random and left
out) become a constraint; constraints are applied from the one that keeps most traffic to
the one that keeps least, each kept only if the fingerprint still carries the threshold
rate. Every prefix of that chain is a candidate of its own specificity; the detector
activates the most specific one that crosses its rule's threshold.

Specificity counts the constraints that are evidence of a tool rather than of a service:
a fixed length, TTL, source port, TCP window, payload word, fragment offset or the TTL and
protocol of a GRE packet's inner IPv4 header. Destination
port, flags, protocol and ICMP type narrow what is dropped but are shared by legitimate
clients of the same service, so they weigh nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from netlogpush.mitigation.dosd.classes import TrafficClass
from netlogpush.mitigation.dosd.features import Features, dest_mask

C = TrafficClass
Mask = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.integer[Any]]

_TCP = ("dport", "sport", "flags", "len", "ttl", "win")
_UDP = ("dport", "sport", "len", "ttl", "p0", "p1")
_REFLECTION = ("dport", "len", "ttl", "p0", "p1")

#: The header fields a fingerprint of each class may constrain.
FIELDS_BY_CLASS: Mapping[TrafficClass, tuple[str, ...]] = {
    C.FRAGMENT: ("proto", "mf", "frag", "len", "ttl"),
    **{c: _REFLECTION for c in (C.NTP, C.SSDP, C.MEMCACHED, C.CHARGEN, C.DNS_AMP)},
    C.DNS_QUERY: _UDP,
    C.UDP: _UDP,
    **{c: _TCP for c in (C.SYN, C.SYNACK, C.RST, C.ACK, C.TCP_OTHER)},
    C.ICMP: ("icmp", "len", "ttl", "p0", "p1"),
    C.GRE: ("gre", "inner", "len", "ttl"),
    C.OTHER: ("proto", "len", "ttl"),
}

#: Evidence weight of a constraint (one value or a set of up to ``max_values``).
FIELD_WEIGHT: Mapping[str, float] = {
    "len": 1.0, "ttl": 1.0, "sport": 1.0, "win": 1.0, "p0": 1.0, "p1": 1.0, "frag": 1.0,
    "inner": 1.0,
}
#: Per class exceptions: the first payload words of a DNS message are its ID, flags and
#: counts (one question, no or one answer), the same for most clients and resolvers, so
#: they prove nothing; a flood's DNS signature is its size.
CLASS_FIELD_WEIGHT: Mapping[TrafficClass, Mapping[str, float]] = {
    C.DNS_QUERY: {"p0": 0.0, "p1": 0.0},
    C.DNS_AMP: {"p0": 0.0, "p1": 0.0},
}

#: How ``describe`` writes each field in the rules language (``None``: as a comment).
_EXPR_FIELD: Mapping[str, str | None] = {
    "len": "ip.len", "ttl": "ip.ttl", "flags": "tcp.flags", "icmp": None,
    "gre": None, "inner": None, "frag": None, "mf": None, "proto": None, "p0": None, "p1": None, "win": None,
}

_CLASS_EXPR: Mapping[TrafficClass, str] = {
    C.FRAGMENT: "(ip.frag_offset > 0 or ip.more_fragments)",
    C.NTP: 'ip.proto eq "udp" and udp.srcport eq 123',
    C.SSDP: 'ip.proto eq "udp" and udp.srcport eq 1900',
    C.MEMCACHED: 'ip.proto eq "udp" and udp.srcport eq 11211',
    C.CHARGEN: 'ip.proto eq "udp" and udp.srcport eq 19',
    C.DNS_AMP: 'ip.proto eq "udp" and udp.srcport eq 53',
    C.DNS_QUERY: 'ip.proto eq "udp" and udp.dstport eq 53',
    C.UDP: 'ip.proto eq "udp"',
    C.SYN: "tcp.flags.syn and not tcp.flags.ack and not tcp.flags.reset",
    C.SYNACK: "tcp.flags.syn and tcp.flags.ack and not tcp.flags.reset",
    C.RST: "tcp.flags.reset",
    C.ACK: "tcp.flags.ack and not tcp.flags.syn and not tcp.flags.reset",
    C.TCP_OTHER: 'ip.proto eq "tcp" and not tcp.flags.ack and not tcp.flags.syn and not tcp.flags.reset',
    C.ICMP: 'ip.proto in {"icmp" "ipv6-icmp"}',
    C.GRE: 'ip.proto eq "gre"',
    C.OTHER: "ip.proto other",
}


@dataclass(frozen=True, slots=True)
class Dest:
    """A destination host or prefix. IPv4 in ``lo``; IPv6 as two big-endian 64-bit words."""

    version: int
    plen: int
    hi: int
    lo: int

    @classmethod
    def of(cls, version: int, hi: int, lo: int, plen: int) -> Dest:
        mh, ml = dest_mask(version, plen)
        return cls(version, plen, hi & mh, lo & ml)

    @classmethod
    def parse(cls, cidr: str) -> Dest:
        net = ipaddress.ip_network(cidr, strict=False)
        value = int(net.network_address)
        if net.version == 4:
            return cls(4, net.prefixlen, 0, value)
        return cls(6, net.prefixlen, value >> 64, value & ((1 << 64) - 1))

    @property
    def is_host(self) -> bool:
        return self.plen == (32 if self.version == 4 else 128)

    def cidr(self) -> str:
        if self.version == 4:
            return f"{ipaddress.IPv4Address(self.lo)}/{self.plen}"
        return f"{ipaddress.IPv6Address((self.hi << 64) | self.lo)}/{self.plen}"

    def address(self) -> str:
        return self.cidr().rsplit("/", 1)[0] if self.is_host else self.cidr()

    def match(self, f: Features, lo: int = 0, hi: int | None = None) -> Mask:
        """Which packets of positions ``[lo, hi)`` go to this destination."""
        hi = len(f) if hi is None else hi
        version = f.version[lo:hi]
        if self.version == 4:
            dst = f.dst4[lo:hi]
            m4 = dest_mask(4, self.plen)[1]
            hit = dst == self.lo if m4 == 0xFFFFFFFF else (dst & m4) == self.lo
            out4: Mask = hit & (version == 4)
            return out4
        whi, wlo = f.dest_words()
        mh, ml = (np.uint64(m) for m in dest_mask(6, self.plen))
        out6: Mask = (
            ((whi[lo:hi] & mh) == np.uint64(self.hi))
            & ((wlo[lo:hi] & ml) == np.uint64(self.lo))
            & (version == 6)
        )
        return out6

    def campaign_prefix(self, plen4: int, plen6: int) -> Dest:
        """The prefix that groups attacks on this destination into one campaign."""
        if self.version == 4:
            return Dest.of(4, self.hi, self.lo, min(self.plen, plen4))
        return Dest.of(6, self.hi, self.lo, min(self.plen, plen6))


Constraint = tuple[str, tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class Fingerprint:
    dest: Dest
    cls: TrafficClass
    constraints: tuple[Constraint, ...] = ()  # sorted by field name

    @property
    def specificity(self) -> float:
        return specificity(self.cls, self.constraints)

    def canonical(self) -> str:
        """A stable text form (it goes into the attack ID)."""
        parts = [self.dest.cidr(), self.cls.name.lower()]
        parts += [f"{name}={','.join(map(str, vals))}" for name, vals in self.constraints]
        return ";".join(parts)

    def describe(self) -> str:
        """The fingerprint in the rules language's words (payload words as hex comments)."""
        d = self.dest
        dst = d.address() if d.is_host else d.cidr()
        parts = [f"ip.dst in {{{dst}}}", _CLASS_EXPR[self.cls]]
        for name, vals in self.constraints:
            text = " ".join(str(v) for v in vals) if name != "p0" and name != "p1" else " ".join(
                f"0x{v:08x}" for v in vals
            )
            field = _EXPR_FIELD.get(name, "")
            if field is None:
                parts.append(f"{name} in {{{text}}}")
                continue
            if not field:
                proto = "tcp" if self.cls.is_tcp else "udp"
                field = f"{proto}.{'dstport' if name == 'dport' else 'srcport'}"
            parts.append(f"{field} in {{{text}}}")
        return " and ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "destination": self.dest.cidr(),
            "class": self.cls.name.lower(),
            "constraints": {name: list(vals) for name, vals in self.constraints},
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Fingerprint:
        dest = Dest.parse(str(obj["destination"]))
        klass = TrafficClass[str(obj["class"]).upper()]
        cons = tuple(
            sorted((str(k), tuple(int(v) for v in vals)) for k, vals in dict(obj.get("constraints", {})).items())
        )
        for name, _ in cons:
            if name not in FIELDS_BY_CLASS[klass]:
                raise ValueError(f"field {name!r} is not part of a {klass.name.lower()} fingerprint")
        return cls(dest, klass, cons)

    def match(self, f: Features, lo: int = 0, hi: int | None = None) -> I64:
        """Positions in ``[lo, hi)`` that match, in order.

        Destination and class are compared over the whole range (cheap columns); header
        fields are gathered only for the packets that pass those.
        """
        hi = len(f) if hi is None else hi
        if hi <= lo:
            return np.zeros(0, np.int64)
        ok = (f.cls[lo:hi] == self.cls) & self.dest.match(f, lo, hi)
        pos: I64 = np.flatnonzero(ok).astype(np.int64) + lo
        for name, vals in self.constraints:
            if pos.size == 0:
                break
            pos = pos[_isin(f.values(name, pos), vals)]
        return pos

    def match_values(self, values: Mapping[str, IntArray], n: int) -> Mask:
        """Which of ``n`` samples (header values by field) satisfy the constraints."""
        ok = np.ones(n, np.bool_)
        for name, vals in self.constraints:
            ok &= _isin(values[name], vals)
        return ok


def field_weight(cls: TrafficClass, name: str) -> float:
    special = CLASS_FIELD_WEIGHT.get(cls)
    if special is not None and name in special:
        return special[name]
    return FIELD_WEIGHT.get(name, 0.0)


def specificity(cls: TrafficClass, constraints: Sequence[Constraint]) -> float:
    """Evidence carried by ``constraints``: the sum of their fields' weights."""
    return sum(field_weight(cls, n) for n, _ in constraints)


def _isin(col: IntArray, vals: Sequence[int]) -> Mask:
    if len(vals) == 1:
        out: Mask = col == vals[0]
        return out
    return np.isin(col, np.asarray(vals, np.int64))


@dataclass(frozen=True, slots=True)
class Candidate:
    constraints: tuple[Constraint, ...]
    mask: Mask  # which samples it matches
    share: float  # weighted share of the samples it matches


def candidates(
    values: Mapping[str, IntArray],
    weight: F64,
    cls: TrafficClass,
    rate: float,
    chain_pps: float,
    heavy_pps: float,
    max_values: int,
    min_value_samples: int = 2,
) -> list[Candidate]:
    """The chain of candidates of increasing specificity, from the coarsest (no constraint).

    ``rate`` is the traffic rate the samples stand for, so a sample share converts to pps.
    A value is heavy when its rate reaches ``heavy_pps``; a constraint joins the chain when
    the fingerprint keeps at least ``chain_pps``.
    """
    n = int(weight.shape[0])
    total = float(weight.sum())
    base = Candidate((), np.ones(n, np.bool_), 1.0)
    if n == 0 or total <= 0 or rate <= 0:
        return [base]
    per_sample = rate / total
    options: list[tuple[float, float, Constraint, Mask]] = []
    for name in FIELDS_BY_CLASS[cls]:
        col = values[name]
        uniq, inv, counts = np.unique(col, return_inverse=True, return_counts=True)
        vw = np.bincount(inv, weight, uniq.size)
        heavy = np.flatnonzero((vw * per_sample >= heavy_pps) & (counts >= min_value_samples))
        if heavy.size == 0 or heavy.size > max_values:
            continue
        vals = tuple(int(v) for v in np.sort(uniq[heavy]))
        keep = _isin(col, vals)
        cover = float(weight[keep].sum()) / total
        weight_of = field_weight(cls, name)
        options.append((cover, weight_of, (name, vals), keep))
    options.sort(key=lambda o: (-o[0], -o[1], o[2][0]))
    chain = [base]
    cur = base.mask
    cons: list[Constraint] = []
    for _cover, _w, constraint, keep in options:
        nxt = cur & keep
        share = float(weight[nxt].sum()) / total
        if share * rate < chain_pps:
            continue
        cur = nxt
        cons.append(constraint)
        chain.append(Candidate(tuple(sorted(cons)), cur, share))
    return chain
