"""Names the records show for numbers: IP protocols, DNS query types and TCP flags."""

from __future__ import annotations

#: IANA protocol keywords, upper case as Cloudflare's records show them (``TCP``, ``UDP``).
#: ICMP for IPv6 is ``ICMPV6`` rather than IANA's ``IPV6-ICMP``: it is the name users filter by.
IP_PROTOCOL_NAMES: dict[int, str] = {
    0: "HOPOPT",
    1: "ICMP",
    2: "IGMP",
    4: "IPV4",
    6: "TCP",
    8: "EGP",
    9: "IGP",
    17: "UDP",
    27: "RDP",
    33: "DCCP",
    41: "IPV6",
    43: "IPV6-ROUTE",
    44: "IPV6-FRAG",
    46: "RSVP",
    47: "GRE",
    50: "ESP",
    51: "AH",
    58: "ICMPV6",
    59: "IPV6-NONXT",
    60: "IPV6-OPTS",
    88: "EIGRP",
    89: "OSPF",
    94: "IPIP",
    97: "ETHERIP",
    103: "PIM",
    108: "IPCOMP",
    112: "VRRP",
    115: "L2TP",
    132: "SCTP",
    136: "UDPLITE",
    137: "MPLS-IN-IP",
}

#: DNS RR types (RFC 1035 and successors); others are written ``TYPE<n>`` as RFC 3597 says.
DNS_QUERY_TYPES: dict[int, str] = {
    1: "A",
    2: "NS",
    5: "CNAME",
    6: "SOA",
    12: "PTR",
    13: "HINFO",
    15: "MX",
    16: "TXT",
    17: "RP",
    18: "AFSDB",
    24: "SIG",
    25: "KEY",
    28: "AAAA",
    29: "LOC",
    33: "SRV",
    35: "NAPTR",
    36: "KX",
    37: "CERT",
    39: "DNAME",
    41: "OPT",
    42: "APL",
    43: "DS",
    44: "SSHFP",
    45: "IPSECKEY",
    46: "RRSIG",
    47: "NSEC",
    48: "DNSKEY",
    49: "DHCID",
    50: "NSEC3",
    51: "NSEC3PARAM",
    52: "TLSA",
    53: "SMIMEA",
    55: "HIP",
    59: "CDS",
    60: "CDNSKEY",
    61: "OPENPGPKEY",
    62: "CSYNC",
    63: "ZONEMD",
    64: "SVCB",
    65: "HTTPS",
    99: "SPF",
    108: "EUI48",
    109: "EUI64",
    249: "TKEY",
    250: "TSIG",
    251: "IXFR",
    252: "AXFR",
    255: "ANY",
    256: "URI",
    257: "CAA",
}

#: TCP flag bits, lowest first. ``TCPFlagsString`` names the set bits in this order joined
#: by ``-`` (``SYN-ACK``, ``PSH-ACK``, ``FIN-ACK``); no flags give ``""`` (docs/dataset.md).
TCP_FLAG_NAMES: tuple[str, ...] = ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "AE")


def dns_query_type_name(qtype: int) -> str:
    return DNS_QUERY_TYPES.get(qtype, f"TYPE{qtype}")


def tcp_flags_string(flags: int) -> str:
    return "-".join(name for bit, name in enumerate(TCP_FLAG_NAMES) if flags >> bit & 1)
