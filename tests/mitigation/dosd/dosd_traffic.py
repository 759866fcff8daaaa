"""Synthetic traffic for the dosd tests: a benign mix plus attacks, with ground truth.

Each component is a few template packets built with ``netlogpush.testing.packets`` and
stamped out with ``BatchTemplate`` (addresses, ports, TTLs, IDs and payload bytes varied per
packet, checksums fixed), with Poisson arrivals between its start and end. Components are
merged by time and cut into ``FrameBatch``es with ``FrameBatchBuilder``; the runner decodes
each with the real decoder and feeds dosd a ``StageInput`` built the way the pipeline does.
Everything is seeded: a scenario is the same packets every run.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from netlogpush.decode import decode
from netlogpush.decode.frames import FrameBatch, FrameBatchBuilder
from netlogpush.mitigation.dosd import DosdSystem
from netlogpush.mitigation.firewall import PacketView
from netlogpush.mitigation.stage import StageInput
from netlogpush.testing import packets as P

Rng = np.random.Generator
Vary = Callable[[Rng, int], npt.NDArray[Any]]

T0_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z

WEB, WEB2, DNS_SERVER, GAME, TUNNEL_END = "192.0.2.10", "192.0.2.11", "192.0.2.53", "192.0.2.20", "192.0.2.254"
WEB6 = "2001:db8:5::10"
CLIENTS = "192.0.2.100"  # first of the internal clients (.100-.199)


def v4(text: str) -> int:
    return int.from_bytes(P.ip_bytes(text), "big")


# --- field generators -------------------------------------------------------------------


def const(value: int) -> Vary:
    return lambda rng, n: np.full(n, value, np.int64)


def uniform(lo: int, hi: int) -> Vary:
    """Integers in [lo, hi]."""
    return lambda rng, n: rng.integers(lo, hi + 1, n, dtype=np.int64)


def choice(values: Sequence[int], p: Sequence[float] | None = None) -> Vary:
    arr = np.asarray(values, np.int64)
    return lambda rng, n: arr[rng.choice(arr.size, n, p=p)]


def random_v4() -> Vary:
    # Anywhere but 0/8, 127/8, 192.0.2/24 (ours) and multicast: plausible Internet sources.
    def gen(rng: Rng, n: int) -> npt.NDArray[Any]:
        x = rng.integers(0x01000000, 0xDF000000, n, dtype=np.int64)
        bad = ((x >> 24) == 127) | ((x >> 8) == 0xC00002)
        x[bad] ^= 0x10000000
        return x

    return gen


def hosts(first: str, count: int) -> Vary:
    base = v4(first)
    return lambda rng, n: base + rng.integers(0, count, n, dtype=np.int64)


def client_ttl() -> Vary:
    """TTLs as they arrive from Internet clients: an initial TTL minus 3-25 hops."""
    def gen(rng: Rng, n: int) -> npt.NDArray[Any]:
        init = np.asarray([64, 128, 255])[rng.choice(3, n, p=[0.6, 0.3, 0.1])]
        return init - rng.integers(3, 26, n)

    return gen


def random_bytes(width: int) -> Vary:
    return lambda rng, n: rng.integers(0, 256, (n, width), dtype=np.uint8)


# --- components -------------------------------------------------------------------------


@dataclass
class Component:
    """One kind of traffic: template frames (one per length variant) and fields to vary."""

    name: str
    frames: list[bytes]
    rate: float  # packets per second
    start: float  # seconds
    end: float
    vary: dict[str, Vary] = field(default_factory=dict)
    attack: bool = False
    probs: list[float] | None = None
    extra: dict[str, tuple[int, int]] = field(default_factory=dict)  # more fields: (offset, width)
    extra_from_payload: dict[str, tuple[int, int]] = field(default_factory=dict)  # relative to l4+8

    def render(self, rng: Rng) -> tuple[npt.NDArray[np.float64], list[bytes]]:
        n = rng.poisson(self.rate * (self.end - self.start))
        ts = np.sort(rng.uniform(self.start, self.end, n))
        which = rng.choice(len(self.frames), n, p=self.probs)
        out: list[bytes] = [b""] * n
        values = {name: gen(rng, n) for name, gen in self.vary.items()}
        for k, frame in enumerate(self.frames):
            idx = np.flatnonzero(which == k)
            if idx.size == 0:
                continue
            lay = P.layout(frame)
            fields = dict(lay.fields)
            fields.update(self.extra)
            for name, (off, width) in self.extra_from_payload.items():
                fields[name] = (lay.l4_offset + 8 + off, width)
            tmpl = P.BatchTemplate(frame, fields, lay.checksums)
            vals = {}
            for name, arr in values.items():
                if name not in fields:
                    continue
                vals[name] = arr[idx]
            rows = tmpl.render(idx.size, vals)
            for j, i in enumerate(idx.tolist()):
                out[i] = rows[j].tobytes()
        return ts, out


@dataclass
class Traffic:
    ts_s: npt.NDArray[np.float64]
    frames: list[bytes]
    comp: npt.NDArray[np.int64]
    names: list[str]
    attack: npt.NDArray[np.bool_]

    def batches(self, size: int = 16384, sample_interval: int = 1) -> list[FrameBatch]:
        out = []
        b = FrameBatchBuilder()
        ts_ns = (T0_NS + np.round(self.ts_s * 1e9)).astype(np.int64).tolist()
        for i, frame in enumerate(self.frames):
            b.append(frame, ts_ns[i], P.LINKTYPE_ETHERNET, sample_interval=sample_interval)
            if len(b) == size:
                out.append(b.build())
        if len(b):
            out.append(b.build())
        return out


def generate(components: Sequence[Component], seed: int = 1) -> Traffic:
    rng = np.random.default_rng(seed)
    all_ts, all_frames, all_comp = [], [], []
    for c, comp in enumerate(components):
        ts, frames = comp.render(rng)
        all_ts.append(ts)
        all_frames.extend(frames)
        all_comp.append(np.full(ts.size, c, np.int64))
    ts = np.concatenate(all_ts)
    comp_ids = np.concatenate(all_comp)
    order = np.argsort(ts, kind="stable")
    attack = np.array([components[c].attack for c in comp_ids[order]], np.bool_)
    return Traffic(ts[order], [all_frames[i] for i in order.tolist()], comp_ids[order],
                   [c.name for c in components], attack)


def eth(packet: bytes) -> bytes:
    return P.ethernet(packet, ethertype=P.ETH_IPV6 if packet[0] >> 4 == 6 else P.ETH_IPV4)


# --- the benign mix ---------------------------------------------------------------------


def _tcp(dst: str, dport: int, flags: int, payload: int = 0, opts: bool = False, sport: int = 40000,
         src: str = "198.51.100.1", v6: bool = False) -> bytes:
    options = [P.mss(1460), P.sack_permitted(), P.timestamps(1, 0), P.NOP, P.wscale(7)] if opts else (
        [P.NOP, P.NOP, P.timestamps(1, 2)] if flags & P.ACK else []
    )
    seg = P.tcp(sport=sport, dport=dport, flags=flags, options=options, payload=bytes(payload), seq=1, ack=1)
    if v6:
        return eth(P.ipv6(seg, src="2001:db8:c::1", dst=dst))
    return eth(P.ipv4(seg, src=src, dst=dst, df=True))


def web_clients(dst: str, rate: float, start: float, end: float, name: str = "web", dport: int = 443,
                attack: bool = False) -> Component:
    """Clients of a web server: handshakes, pure ACKs, requests and uploads, closes."""
    frames = [_tcp(dst, dport, P.SYN, opts=True)]
    probs = [0.05]
    frames.append(_tcp(dst, dport, P.ACK))
    probs.append(0.40)
    sizes = [60, 180, 400, 517, 900, 1200, 1448]
    for s in sizes:
        frames.append(_tcp(dst, dport, P.ACK | P.PSH, payload=s))
        probs.append(0.50 / len(sizes))
    frames.append(_tcp(dst, dport, P.ACK | P.FIN))
    probs.append(0.05)
    return Component(
        name, frames, rate, start, end,
        vary={"ip.src": random_v4(), "l4.sport": uniform(1024, 65535), "ip.ttl": client_ttl(),
              "ip.id": uniform(0, 65535), "tcp.seq": uniform(0, 2**32 - 1), "tcp.ack": uniform(0, 2**32 - 1),
              "win": choice([64240, 65535, 29200, 42340, 501, 1026, 2048, 8192])},
        probs=probs, attack=attack,
        extra={"win": (14 + 20 + 14, 2)},
    )


def web6_clients(rate: float, start: float, end: float) -> Component:
    frames = [_tcp(WEB6, 443, P.SYN, opts=True, v6=True), _tcp(WEB6, 443, P.ACK, v6=True)]
    frames += [_tcp(WEB6, 443, P.ACK | P.PSH, payload=s, v6=True) for s in (90, 400, 1200)]
    return Component(
        "web6", frames, rate, start, end,
        vary={"l4.sport": uniform(1024, 65535), "ip6.hlim": client_ttl(), "tcp.seq": uniform(0, 2**32 - 1)},
        probs=[0.05, 0.45, 0.2, 0.15, 0.15],
    )


def dns_clients(rate: float, start: float, end: float) -> Component:
    names = ["a.example", "www.example.com", "mail.example.org", "cdn.static.example.net",
             "x.y.z.example", "api.service.example.com", "ns1.example", "www.a-long-name.example.org"]
    frames = [eth(P.ipv4(P.udp(sport=53000, dport=53, payload=P.dns_query(n, "A")), src="198.51.100.1",
                         dst=DNS_SERVER)) for n in names]
    return Component(
        "dns", frames, rate, start, end,
        vary={"ip.src": random_v4(), "l4.sport": uniform(1024, 65535), "ip.ttl": client_ttl(),
              "dns.id": uniform(0, 65535), "ip.id": uniform(0, 65535)},
    )


def inbound_responses(rate: float, start: float, end: float) -> Component:
    """Answers to our internal clients: HTTPS downloads, QUIC, DNS and NTP replies."""
    def udp(sport: int, n: int) -> bytes:
        return eth(P.ipv4(P.udp(sport=sport, dport=50000, payload=bytes(n)), src="198.51.100.9", dst=CLIENTS))

    frames = [
        _tcp(CLIENTS, 50000, P.ACK, payload=1448, sport=443),
        _tcp(CLIENTS, 50000, P.ACK | P.PSH, payload=700, sport=443),
        _tcp(CLIENTS, 50000, P.ACK, sport=443),
        udp(443, 1252), udp(443, 1350), udp(443, 400),
        udp(53, 80), udp(53, 160), udp(123, 48),
    ]
    return Component(
        "responses", frames, rate, start, end,
        vary={"ip.src": random_v4(), "ip.dst": hosts(CLIENTS, 100), "l4.dport": uniform(1024, 65535),
              "ip.ttl": client_ttl(), "ip.id": uniform(0, 65535)},
        probs=[0.35, 0.15, 0.1, 0.15, 0.1, 0.05, 0.05, 0.04, 0.01],
    )


def pings(rate: float, start: float, end: float) -> Component:
    frames = [eth(P.ipv4(P.icmp_echo(1, 1, bytes(n)), src="198.51.100.1", dst=WEB)) for n in (32, 56)]
    return Component(
        "ping", frames, rate, start, end,
        vary={"ip.src": random_v4(), "ip.ttl": client_ttl(), "icmp.id": uniform(0, 65535),
              "icmp.seq": uniform(0, 65535), "ip.dst": hosts("192.0.2.1", 60)},
    )


def tunnel(rate: float, start: float, end: float) -> Component:
    inner = [P.ipv4(P.tcp(sport=443, dport=40000, flags=P.ACK, payload=bytes(n)), src="10.0.0.1", dst="10.0.1.1")
             for n in (0, 300, 1300)]
    frames = [eth(P.ipv4(P.gre(i), src="198.51.100.77", dst=TUNNEL_END, ttl=58)) for i in inner]
    return Component("tunnel", frames, rate, start, end, vary={"ip.id": uniform(0, 65535)})


def benign(start: float = 0.0, end: float = 8.0, scale: float = 1.0) -> list[Component]:
    """About 2,600 pps of ordinary traffic to a /24 of servers and clients."""
    return [
        web_clients(WEB, 900 * scale, start, end),
        web_clients(WEB2, 400 * scale, start, end, name="web2", dport=80),
        web6_clients(200 * scale, start, end),
        dns_clients(400 * scale, start, end),
        inbound_responses(600 * scale, start, end),
        pings(30 * scale, start, end),
        tunnel(60 * scale, start, end),
    ]


# --- running dosd -----------------------------------------------------------------------


@dataclass
class Run:
    traffic: Traffic
    drop: npt.NDArray[np.bool_]
    enforce: npt.NDArray[np.bool_]
    fields: dict[str, npt.NDArray[np.object_]]
    system: DosdSystem
    ended: list[Any]
    seconds: float = 0.0

    @property
    def attack(self) -> npt.NDArray[np.bool_]:
        return self.traffic.attack

    def detected_at(self) -> float | None:
        """Packet time (s) of the first dropped attack packet."""
        hit = np.flatnonzero(self.attack & self.drop)
        return None if hit.size == 0 else float(self.traffic.ts_s[hit[0]])

    def attack_drop_after_detection(self) -> float:
        t = self.detected_at()
        if t is None:
            return 0.0
        sel = self.attack & (self.traffic.ts_s >= t)
        return float(self.drop[sel].mean())

    def benign_drop(self) -> float:
        return float(self.drop[~self.attack].mean())

    def attack_field(self, name: str) -> set[str]:
        return set(self.fields[name][self.attack & self.drop].tolist())

    def all_mitigations(self) -> list[Any]:
        return [*self.ended, *self.system.active]


def stage_input(frames: FrameBatch) -> StageInput:
    pc = decode(frames)
    view = PacketView.from_columns(pc)
    return StageInput(pc, view, pc.ip_version != 0)


def run(system: DosdSystem, traffic: Traffic, batch_size: int = 16384, sample_interval: int = 1) -> Run:
    import time

    drops, enforces = [], []
    cols: dict[str, list[npt.NDArray[np.object_]]] = {}
    spent = 0.0
    for fb in traffic.batches(batch_size, sample_interval):
        inp = stage_input(fb)
        t0 = time.perf_counter()
        d = system.process(inp)
        spent += time.perf_counter() - t0
        drops.append(d.drop)
        enforces.append(d.enforce)
        for k, v in d.label_fields(np.arange(len(d.drop))).items():
            cols.setdefault(k, []).append(v)
    fields = {k: np.concatenate(v) for k, v in cols.items()}
    return Run(traffic, np.concatenate(drops), np.concatenate(enforces), fields, system,
               list(system.ended), spent)


# --- attacks ----------------------------------------------------------------------------


def udp_reflection(sport: int, payload: bytes, dst: str = WEB, rate: float = 3000, start: float = 2.0,
                   end: float = 6.0, name: str = "attack") -> Component:
    """Replies from many reflectors (random sources, reflector TTLs), to random victim ports."""
    frame = eth(P.ipv4(P.udp(sport=sport, dport=40000, payload=payload), src="198.51.100.1", dst=dst))
    return Component(name, [frame], rate, start, end, attack=True,
                     vary={"ip.src": random_v4(), "l4.dport": uniform(1024, 65535), "ip.ttl": client_ttl(),
                           "ip.id": uniform(0, 65535)})


NTP_MONLIST = bytes([0xD7, 0x00, 0x03, 0x2A, 0x00, 0x06, 0x00, 0x48]) + bytes(432)
SSDP_REPLY = (b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\nLOCATION: http://192.168.1.1:1900/"
              b"igd.xml\r\nSERVER: Linux/2.6 UPnP/1.0 miniupnpd/1.0\r\nST: upnp:rootdevice\r\n"
              b"USN: uuid:00000000-0000-0000-0000-000000000000::upnp:rootdevice\r\n\r\n")
MEMCACHED_REPLY = b"\x00\x01\x00\x00\x00\x01\x00\x00VALUE a 0 1300\r\n" + b"A" * 1300 + b"\r\nEND\r\n"
CHARGEN_LINE = bytes(range(33, 33 + 72)) + b"\r\n"


def dns_amplification(rate: float = 6000, dst: str = WEB, start: float = 2.0, end: float = 6.0) -> Component:
    answers = b"".join(b"\xc0\x0c\x00\x10\x00\x01\x00\x00\x0e\x10\x00\xff\xfe" + bytes(254) for _ in range(5))
    msg = struct.pack("!HHHHHH", 0, 0x8180, 1, 5, 0, 0) + P.dns_name("example.org") + b"\x00\xff\x00\x01" + answers
    frame = eth(P.ipv4(P.udp(sport=53, dport=40000, payload=msg), src="198.51.100.1", dst=dst))
    return Component("attack", [frame], rate, start, end, attack=True,
                     vary={"ip.src": random_v4(), "l4.dport": uniform(1024, 65535), "ip.ttl": client_ttl(),
                           "dns.id": uniform(0, 65535)})


def _botnet(ttl: Vary | None = None) -> dict[str, Vary]:
    return {"ip.src": random_v4(), "l4.sport": uniform(1024, 65535), "ip.ttl": ttl or client_ttl(),
            "ip.id": uniform(0, 65535), "tcp.seq": uniform(0, 2**32 - 1)}


def tcp_flood(flags: int, dst: str = WEB, dport: int = 443, rate: float = 15000, start: float = 2.0,
              end: float = 6.0, window: Vary | None = None, options: Sequence[bytes] = (),
              sport: Vary | None = None) -> Component:
    seg = P.tcp(sport=40000, dport=dport, flags=flags, window=512, options=options, seq=1, ack=7)
    frame = eth(P.ipv4(seg, src="198.51.100.1", dst=dst))
    vary = _botnet()
    if window is not None:
        vary["win"] = window
    if sport is not None:
        vary["l4.sport"] = sport
    return Component("attack", [frame], rate, start, end, vary=vary, attack=True,
                     extra={"win": (14 + 20 + 14, 2)})


def udp_flood(dst: str = "192.0.2.20", rate: float = 30000, start: float = 2.0, end: float = 6.0,
              size: int = 512, v6: bool = False) -> Component:
    seg = P.udp(sport=40000, dport=27015, payload=bytes(size))
    if v6:
        return Component("attack", [eth(P.ipv6(seg, src="2001:db8:c::1", dst=dst))], rate, start, end,
                         vary={"l4.sport": uniform(1024, 65535), "l4.dport": uniform(1, 65535)}, attack=True)
    frame = eth(P.ipv4(seg, src="198.51.100.1", dst=dst))
    return Component("attack", [frame], rate, start, end, attack=True,
                     vary={"ip.src": random_v4(), "l4.sport": uniform(1024, 65535),
                           "l4.dport": uniform(1, 65535), "ip.ttl": client_ttl()})


def random_udp_flood(dst: str = "192.0.2.20", rate: float = 80000, start: float = 2.0, end: float = 4.0) -> Component:
    """No signature: random lengths, TTLs, ports and payload bytes."""
    frames = [eth(P.ipv4(P.udp(sport=1, dport=2, payload=bytes(n)), src="198.51.100.1", dst=dst))
              for n in range(16, 16 + 40 * 23, 23)]
    return Component("attack", frames, rate, start, end, attack=True,
                     vary={"ip.src": random_v4(), "l4.sport": uniform(1, 65535), "l4.dport": uniform(1, 65535),
                           "ip.ttl": uniform(1, 255), "pl": random_bytes(8)},
                     extra_from_payload={"pl": (0, 8)})


def icmp_flood(dst: str = WEB, rate: float = 15000, start: float = 2.0, end: float = 6.0) -> Component:
    frame = eth(P.ipv4(P.icmp_echo(1, 1, bytes(range(256)) * 4), src="198.51.100.1", dst=dst))
    return Component("attack", [frame], rate, start, end, attack=True,
                     vary={"ip.src": random_v4(), "ip.ttl": client_ttl(), "icmp.id": uniform(0, 65535),
                           "icmp.seq": uniform(0, 65535)})


def gre_flood(dst: str = WEB, rate: float = 15000, start: float = 2.0, end: float = 6.0) -> Component:
    inner = P.ipv4(P.udp(sport=1234, dport=80, payload=bytes(512)), src="10.9.9.9", dst="10.8.8.8")
    frame = eth(P.ipv4(P.gre(inner), src="198.51.100.1", dst=dst))
    return Component("attack", [frame], rate, start, end, attack=True,
                     vary={"ip.src": random_v4(), "ip.ttl": client_ttl(), "ip.id": uniform(0, 65535),
                           "inner.ip.src": random_v4()})


def dns_query_flood(dst: str = DNS_SERVER, rate: float = 15000, start: float = 2.0, end: float = 6.0) -> Component:
    frame = eth(P.ipv4(P.udp(sport=40000, dport=53, payload=P.dns_query("www.victim.example", "ANY")),
                       src="198.51.100.1", dst=dst))
    return Component("attack", [frame], rate, start, end, attack=True,
                     vary={"ip.src": random_v4(), "l4.sport": uniform(1024, 65535), "ip.ttl": client_ttl(),
                           "dns.id": uniform(0, 65535), "ip.id": uniform(0, 65535)})


def fragment_flood(dst: str = WEB, rate: float = 15000, start: float = 2.0, end: float = 6.0) -> Component:
    frame = eth(P.ipv4(bytes(1480), proto=P.PROTO_UDP, src="198.51.100.1", dst=dst, frag_offset=1480,
                       mf=True))
    return Component("attack", [frame], rate, start, end, attack=True,
                     vary={"ip.src": random_v4(), "ip.ttl": client_ttl(), "ip.id": uniform(0, 65535)})


def random_v6_hosts(prefix: str) -> Vary:
    """IPv6 addresses in a /64: the prefix's 8 bytes, then 8 random ones."""
    head = np.frombuffer(P.ip_bytes(prefix)[:8], np.uint8)

    def gen(rng: Rng, n: int) -> npt.NDArray[Any]:
        out = np.empty((n, 16), np.uint8)
        out[:, :8] = head
        out[:, 8:] = rng.integers(0, 256, (n, 8), dtype=np.uint8)
        return out

    return gen


def lookalike_syns(dst: str = WEB, rate: float = 15000, start: float = 2.0, end: float = 6.0,
                   windows: Sequence[int] = (64240, 65535)) -> Component:
    """SYNs built like ``web_clients``' (same options, so the same length), windows from a
    subset of theirs."""
    frame = _tcp(dst, 443, P.SYN, opts=True)
    return Component("attack", [frame], rate, start, end, attack=True,
                     vary={**_botnet(), "win": choice(list(windows))},
                     extra={"win": (14 + 20 + 14, 2)})
