"""Benign traffic for the scenarios: web, DNS, and the mixed capture as background.

Conversations are the mixed generator's (:mod:`netlogpush.scenarios.mixed`): a ``Kind`` is
a list of packets built once, and every session of it is stamped out per packet of the
conversation in one numpy batch, with its own addresses, ports, sequence numbers and TTLs.
Here the kinds are chosen to look like a customer network's real traffic *towards the
hosts the attacks hit*, so that a detector has to tell them apart:

* web: HTTPS/HTTP connections from Linux, Windows and macOS clients (SYN options, TTLs),
  long downloads (streams of inbound ACKs), resets, refused connections, QUIC (large UDP
  443 datagrams), IPv6;
* DNS: clients asking the customer's authoritative server, the customer's resolver asking
  servers on the Internet (responses *from* port 53, some large DNSSEC ones), and hosts
  synchronising time (responses from port 123): what reflection attacks imitate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from netlogpush.scenarios import mixed as M
from netlogpush.scenarios.streams import U32, Block, addr4
from netlogpush.testing import packets as P

#: The customer's hosts that the scenarios use (all inside ``mixed.SERVERS4``).
WEB_SERVERS = ("203.0.113.10", "203.0.113.11", "203.0.113.12", "203.0.113.20")
AUTH_DNS = "203.0.113.53"  # the customer's authoritative name server
RESOLVER = "203.0.113.54"  # the customer's recursive resolver, also an NTP client
NTP_CLIENTS = (RESOLVER, "203.0.113.60", "203.0.113.61")


@dataclass(frozen=True, slots=True)
class KindShare:
    kind: M.Kind
    weight: float  # share of the component's packets
    clients: str  # "internet" or "customer": who opens the conversation
    servers: tuple[str, ...] = ()  # empty: servers on the Internet


def _hello() -> bytes:
    return M._payload(517, 22)


def web_kinds(servers: Sequence[str] = WEB_SERVERS) -> list[KindShare]:
    ip4, ip6 = M._ip4(df=True), M._ip6()
    srv = tuple(servers)

    def k(name: str, w: float, steps: Sequence[M.Step]) -> KindShare:
        return KindShare(M.Kind(name, "tcp", w, tuple(steps)), w, "internet", srv)

    quic = [
        M.Step(ip4(P.udp(sport=40000, dport=443, payload=M._payload(1250, 1)), True, 0), True, 0),
        M.Step(ip4(P.udp(sport=443, dport=40000, payload=M._payload(1250, 2)), False, 0),
               False, 0.5),
        M.Step(ip4(P.udp(sport=40000, dport=443, payload=M._payload(1250, 3)), True, 1), True,
               0.5),
        M.Step(ip4(P.udp(sport=443, dport=40000, payload=M._payload(1200, 4)), False, 1),
               False, 0.5),
        M.Step(ip4(P.udp(sport=40000, dport=443, payload=M._payload(80, 5)), True, 2), True,
               0.5),
        M.Step(ip4(P.udp(sport=443, dport=40000, payload=M._payload(1200, 6)), False, 2),
               False, 0.1),
        M.Step(ip4(P.udp(sport=40000, dport=443, payload=M._payload(40, 7)), True, 3), True,
               0.5),
    ]
    return [
        k("web4-https-linux", 0.28, M.tcp_conversation(
            ip4, dport=443, request=_hello(), responses=(1448, 1448, 1448, 600))),
        k("web4-http-windows", 0.10, M.tcp_conversation(
            M._ip4(df=True, ttl=128), dport=80, syn_options=M.SYN_WINDOWS,
            request=b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n", responses=(1460, 1200))),
        k("web4-https-mac", 0.10, M.tcp_conversation(
            ip4, dport=443, syn_options=M.SYN_MAC, request=_hello(),
            responses=(1448, 1448, 1448, 900), sack_loss=True)),
        k("web4-download", 0.16, M.tcp_conversation(
            ip4, dport=443, request=_hello(), responses=(1448,) * 16 + (700,))),
        k("web4-reset", 0.03, M.tcp_conversation(ip4, dport=443, request=M._payload(120),
                                                 end="rst")),
        k("web4-refused", 0.02, M.tcp_conversation(ip4, dport=8443, end="refused")),
        k("web4-quic", 0.18, quic),
        k("web6-https", 0.13, M.tcp_conversation(
            ip6, dport=443, request=_hello(), responses=(1428, 1428, 500))),
    ]


def dns_kinds() -> list[KindShare]:
    ip4 = M._ip4()
    out: list[KindShare] = []
    qs = [q for q in M.DNS_QUESTIONS if isinstance(q[0], str)][:12]
    for i, (qname, qtype) in enumerate(qs):
        q = P.dns_query(qname, qtype, txid=0)
        r = P.dns_response(qname, qtype, txid=0, rdata=M._rdata(qtype))
        steps = (
            M.Step(ip4(P.udp(sport=40000, dport=53, payload=q), True, 0), True, 0),
            M.Step(ip4(P.udp(sport=53, dport=40000, payload=r), False, 0), False, 0.5),
        )
        out.append(KindShare(M.Kind(f"dns-auth-{i:02d}", "dns", 0.45 / len(qs), steps),
                             0.45 / len(qs), "internet", (AUTH_DNS,)))
    # The resolver's own lookups: the answers come in from port 53, a few of them large
    # (DNSSEC keys and signatures, 1-1.2 kB), as in the amplification attack.
    txt = b"".join(bytes([255]) + b"v=" + bytes(97 + i % 26 for i in range(253))
                   for _ in range(2))
    key = b"\x01\x01\x03\x0d" + M._payload(1100, 9)  # flags, protocol 3, algorithm 13
    lookups: list[tuple[str, str, bytes]] = [
        ("www.example.org", "A", M._rdata("A")), ("example.net", "AAAA", M._rdata("AAAA")),
        ("example.com", "MX", M._rdata("MX")), ("example.com", "TXT", txt),
        ("example.com", "DNSKEY", key), ("example.org", "NS", M._rdata("NS")),
    ]
    for i, (qname, qtype, rdata) in enumerate(lookups):
        q = P.dns_query(qname, qtype, txid=0, rd=False)
        r = P.dns_response(qname, qtype, txid=0, rdata=rdata)
        steps = (
            M.Step(ip4(P.udp(sport=40000, dport=53, payload=q), True, 0), True, 0),
            M.Step(ip4(P.udp(sport=53, dport=40000, payload=r), False, 0), False, 0.5),
        )
        w = 0.45 / len(lookups)
        out.append(KindShare(M.Kind(f"dns-resolver-{i:02d}", "dns", w, steps), w, "resolver"))
    ntp = (
        M.Step(ip4(P.udp(sport=40000, dport=123, payload=b"\x23" + bytes(47)), True, 0), True, 0),
        M.Step(ip4(P.udp(sport=123, dport=40000, payload=b"\x24\x02" + bytes(46)), False, 0),
               False, 0.5),
    )
    out.append(KindShare(M.Kind("ntp-client", "udp", 0.10, ntp), 0.10, "ntp"))
    return out


def _addresses(values: Sequence[str]) -> U32:
    return np.asarray([addr4(a) for a in values], np.uint32)


def conversations(
    shares: Sequence[KindShare],
    packets: int,
    rng: np.random.Generator,
    start_ns: int,
    duration_ns: int,
    stream: int,
) -> list[Block]:
    """About ``packets`` packets of the given kinds, sessions starting over the duration.

    One ``Block`` per packet of each conversation, as in ``mixed.generate``: a session's
    packets follow each other by its round-trip time, so conversations interleave.
    """
    internet4 = M._v4(rng, max(64, min(packets // 4, 100_000)))
    internet6 = M._v6(rng, internet4.shape[0])
    servers6 = M._v6(rng, 4, M._net64(M.SERVERS6))
    # Only the kinds' own fields are patched from these pools (tunnel endpoints are unused).
    pools = M._Pools(
        clients4=internet4, clients6=internet6, servers4=_addresses(WEB_SERVERS),
        servers6=servers6, tun4=_addresses(WEB_SERVERS * 2), tun6_a=internet6[:1],
        tun6_b=internet6[1:2],
    )  # fmt: skip
    blocks: list[Block] = []
    total_w = sum(s.weight for s in shares)
    for share in shares:
        kind = share.kind
        n = int(np.rint(packets * share.weight / total_w / len(kind.steps)))
        if n <= 0:
            continue
        v6 = kind.steps[0].packet[0] >> 4 == 6
        server: npt.NDArray[np.generic]
        if share.clients == "internet":
            client = M._pick(rng, internet6 if v6 else internet4, n)
            if v6:
                server = servers6[rng.integers(0, servers6.shape[0], n)]
            else:
                server = _addresses(share.servers)[
                    M._pick(rng, np.arange(len(share.servers)), n)
                ]
        else:
            inside = (RESOLVER,) if share.clients == "resolver" else NTP_CLIENTS
            client = _addresses(inside)[rng.integers(0, len(inside), n)]
            server = M._pick(rng, internet4[: max(8, internet4.shape[0] // 50)], n)
        sess = M._Sessions(
            n=n, rng=rng, v6=v6, client=client, server=server,
            tun_a=client, tun_b=server,
            cport=rng.integers(32768, 61000, n, dtype=np.uint32),
        )  # fmt: skip
        sess.bases["ttl_c"] = M._ttl(rng, n, (64, 128) if share.clients == "internet" else (64,))
        sess.bases["ttl_s"] = M._ttl(rng, n, (64,))
        start = start_ns + rng.integers(0, max(duration_ns, 1), n, dtype=np.int64)
        rtt = np.clip(rng.lognormal(np.log(30e6), 1.0, n), 2e5, 4e8)
        cum = 0.0
        for k, step in enumerate(kind.steps):
            cum += step.gap
            frame = M._frame(kind, step, "ethernet")
            rows = np.ascontiguousarray(
                M._render(kind, step, frame, P.LINKTYPE_ETHERNET, sess, pools)
            )
            ts = (start + (cum * rtt).astype(np.int64) + k * 1000) // 1000 * 1000
            blocks.append(Block(stream, rows, ts))
    return blocks
