"""The ``network_analytics_logs`` dataset: the one source of truth for its 84 fields.

Names, types, descriptions and enumerations follow Cloudflare's field reference
(``logs/logpush/logpush-job/datasets/account/network_analytics_logs``, March 2026), in the
order Cloudflare lists them. Everything that reads, writes or validates records imports
``FIELDS`` from here; nothing else lists field names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldType = Literal["string", "int", "int or string"]


@dataclass(frozen=True, slots=True)
class Field:
    """One field of the dataset, as Cloudflare documents it."""

    name: str
    type: FieldType
    description: str
    enum: tuple[str, ...] = ()

    @property
    def is_int(self) -> bool:
        return self.type == "int"


FIELDS: tuple[Field, ...] = (
    Field(
        "AttackCampaignID",
        "string",
        "Unique identifier of the attack campaign that this packet was a part of, if any.",
    ),
    Field(
        "AttackID", "string", "Unique identifier of the mitigation that matched the packet, if any."
    ),
    Field(
        "AttackVector",
        "string",
        "Descriptive name of the type of attack that this packet was a part of, if any. Only for packets matching rules contained within the Cloudflare L3/4 managed ruleset.",
    ),
    Field(
        "ColoCity",
        "string",
        "The city where the Cloudflare data center that received the packet is located.",
    ),
    Field(
        "ColoCode",
        "string",
        "The Cloudflare data center that received the packet (nearest IATA airport code).",
    ),
    Field(
        "ColoCountry",
        "string",
        "The country where the Cloudflare data center that received the packet is located (ISO 3166-1 alpha-2).",
    ),
    Field(
        "ColoGeoHash",
        "string",
        "The latitude and longitude where the Cloudflare data center that received the packet is located (Geohash encoding).",
    ),
    Field(
        "ColoName",
        "string",
        "The unique site identifier of the Cloudflare data center that received the packet (for example, 'ams01', 'sjc01', 'lhr01').",
    ),
    Field(
        "DNSQueryName",
        "string",
        "The DNS query name (domain) that was queried, if the packet is a DNS query.",
    ),
    Field(
        "DNSQueryType",
        "string",
        "The DNS query type (for example, A, AAAA, MX, TXT), if the packet is a DNS query.",
    ),
    Field("Datetime", "int or string", "The date and time the event occurred at the edge."),
    Field("DestinationASN", "int", "The ASN associated with the destination IP of the packet."),
    Field(
        "DestinationASNName",
        "string",
        "The name of the ASN associated with the destination IP of the packet.",
    ),
    Field(
        "DestinationCountry",
        "string",
        "The country where the destination IP of the packet is located (ISO 3166-1 alpha-2).",
    ),
    Field(
        "DestinationGeoHash",
        "string",
        "The latitude and longitude where the destination IP of the packet is located (Geohash encoding).",
    ),
    Field(
        "DestinationPort",
        "int",
        "Value of the Destination Port header field in the TCP or UDP packet.",
    ),
    Field(
        "Direction",
        "string",
        "The direction in relation to customer network.",
        ("ingress", "egress"),
    ),
    Field("GREChecksum", "int", "Value of the Checksum header field in the GRE packet."),
    Field("GREEtherType", "int", "Value of the EtherType header field in the GRE packet."),
    Field("GREHeaderLength", "int", "Length of the GRE packet header, in bytes."),
    Field("GREKey", "int", "Value of the Key header field in the GRE packet."),
    Field(
        "GRESequenceNumber", "int", "Value of the Sequence Number header field in the GRE packet."
    ),
    Field("GREVersion", "int", "Value of the Version header field in the GRE packet."),
    Field("ICMPChecksum", "int", "Value of the Checksum header field in the ICMP packet."),
    Field("ICMPCode", "int", "Value of the Code header field in the ICMP packet."),
    Field("ICMPType", "int", "Value of the Type header field in the ICMP packet."),
    Field(
        "IPDestinationAddress",
        "string",
        "Value of the Destination Address header field in the IPv4 or IPv6 packet.",
    ),
    Field(
        "IPDestinationSubnet",
        "string",
        "Computed subnet of the Destination Address header field in the IPv4 or IPv6 packet (/24 for IPv4; /64 for IPv6).",
    ),
    Field(
        "IPFragmentOffset",
        "int",
        "Value of the Fragment Offset header field in the IPv4 or IPv6 packet.",
    ),
    Field("IPHeaderLength", "int", "Length of the IPv4 or IPv6 packet header, in bytes."),
    Field(
        "IPMoreFragments",
        "int",
        "Value of the More Fragments header field in the IPv4 or IPv6 packet.",
    ),
    Field("IPProtocol", "int", "Value of the Protocol header field in the IPv4 or IPv6 packet."),
    Field(
        "IPProtocolName",
        "string",
        "Name of the protocol specified by the Protocol header field in the IPv4 or IPv6 packet.",
    ),
    Field(
        "IPSourceAddress",
        "string",
        "Value of the Source Address header field in the IPv4 or IPv6 packet.",
    ),
    Field(
        "IPSourceSubnet",
        "string",
        "Computed subnet of the Source Address header field in the IPv4 or IPv6 packet (/24 for IPv4; /64 for IPv6).",
    ),
    Field(
        "IPTTL",
        "int",
        "Value of the TTL header field in the IPv4 packet or the Hop Limit header field in the IPv6 packet.",
    ),
    Field(
        "IPTTLBuckets",
        "int",
        "Value of the TTL header field in the IPv4 packet or the Hop Limit header field in the IPv6 packet, with the last digit truncated.",
    ),
    Field("IPTotalLength", "int", "Total length of the IPv4 or IPv6 packet, in bytes."),
    Field(
        "IPTotalLengthBuckets",
        "int",
        "Total length of the IPv4 or IPv6 packet, in bytes, with the last two digits truncated.",
    ),
    Field("IPv4Checksum", "int", "Value of the Checksum header field in the IPv4 packet."),
    Field(
        "IPv4DSCP",
        "int",
        "Value of the Differentiated Services Code Point header field in the IPv4 packet.",
    ),
    Field(
        "IPv4DontFragment", "int", "Value of the Don't Fragment header field in the IPv4 packet."
    ),
    Field(
        "IPv4ECN",
        "int",
        "Value of the Explicit Congestion Notification header field in the IPv4 packet.",
    ),
    Field(
        "IPv4Identification", "int", "Value of the Identification header field in the IPv4 packet."
    ),
    Field("IPv4Options", "string", "List of Options numbers included in the IPv4 packet header."),
    Field(
        "IPv6DSCP",
        "int",
        "Value of the Differentiated Services Code Point header field in the IPv6 packet.",
    ),
    Field(
        "IPv6ECN",
        "int",
        "Value of the Explicit Congestion Notification header field in the IPv6 packet.",
    ),
    Field(
        "IPv6ExtensionHeaders",
        "string",
        "List of Extension Header numbers included in the IPv6 packet header.",
    ),
    Field("IPv6FlowLabel", "int", "Value of the Flow Label header field in the IPv6 packet."),
    Field(
        "IPv6Identification",
        "int",
        "Value of the Identification extension header field in the IPv6 packet.",
    ),
    Field(
        "MitigationReason",
        "string",
        "Reason for applying a mitigation to the packet, if any.",
        (
            "BLOCKED",
            "RATE_LIMITED",
            "UNEXPECTED",
            "CHALLENGE_NEEDED",
            "CHALLENGE_PASSED",
            "NOT_FOUND",
            "OUT_OF_SEQUENCE",
            "ALREADY_CLOSED",
        ),
    ),
    Field(
        "MitigationScope",
        "string",
        "Whether the packet matched a local or global mitigation, if any.",
        ("local", "global"),
    ),
    Field(
        "MitigationSystem",
        "string",
        "Which Cloudflare system sampled the packet.",
        ("dosd", "flowtrackd", "magic-firewall"),
    ),
    Field(
        "Outcome",
        "string",
        "The action that Cloudflare systems took on the packet.",
        ("pass", "drop"),
    ),
    Field(
        "PFPCustomTag",
        "int",
        "The custom network analytics tag set by Programmable Flow Protection program, if any.",
    ),
    Field(
        "ProtocolState",
        "string",
        "State of the packet in the context of the protocol, if any.",
        ("OPEN", "NEW", "CLOSING", "CLOSED"),
    ),
    Field(
        "RuleID",
        "string",
        "Unique identifier of the rule contained within the Cloudflare L3/4 managed ruleset that this packet matched, if any.",
    ),
    Field(
        "RuleName",
        "string",
        "Human-readable name of the rule contained within the Cloudflare L3/4 managed ruleset that this packet matched, if any.",
    ),
    Field(
        "RulesetID",
        "string",
        "Unique identifier of the Cloudflare L3/4 managed ruleset containing the rule that this packet matched, if any.",
    ),
    Field(
        "RulesetOverrideID",
        "string",
        "Unique identifier of the rule within the accounts root ddos_l4 phase ruleset which resulted in an override of the default sensitivity or action being applied/evaluated, if any.",
    ),
    Field(
        "SampleInterval",
        "int",
        "The sample interval is the inverse of the sample rate. For example, a sample interval of 1000 means that this packet was randomly sampled from 1 in 1000 packets. Sample rates are dynamic and based on the volume of traffic.",
    ),
    Field("SourceASN", "int", "The ASN associated with the source IP of the packet."),
    Field(
        "SourceASNName",
        "string",
        "The name of the ASN associated with the source IP of the packet.",
    ),
    Field(
        "SourceCountry",
        "string",
        "The country where the source IP of the packet is located (ISO 3166-1 alpha-2).",
    ),
    Field(
        "SourceGeoHash",
        "string",
        "The latitude and longitude where the source IP of the packet is located (Geohash encoding).",
    ),
    Field("SourcePort", "int", "Value of the Source Port header field in the TCP or UDP packet."),
    Field(
        "TCPAcknowledgementNumber",
        "int",
        "Value of the Acknowledgement Number header field in the TCP packet.",
    ),
    Field("TCPChecksum", "int", "Value of the Checksum header field in the TCP packet."),
    Field("TCPDataOffset", "int", "Value of the Data Offset header field in the TCP packet."),
    Field("TCPFlags", "int", "Value of the Flags header field in the TCP packet."),
    Field(
        "TCPFlagsString",
        "string",
        "Human-readable string representation of the Flags header field in the TCP packet.",
    ),
    Field("TCPMSS", "int", "Value of the MSS option header field in the TCP packet."),
    Field("TCPOptions", "string", "List of Options numbers included in the TCP packet header."),
    Field("TCPSACKBlocks", "string", "List of the SACK Blocks option header in the TCP packet."),
    Field(
        "TCPSACKPermitted", "int", "Value of the SACK Permitted option header in the TCP packet."
    ),
    Field(
        "TCPSequenceNumber", "int", "Value of the Sequence Number header field in the TCP packet."
    ),
    Field(
        "TCPTimestampECR",
        "int",
        "Value of the Timestamp Echo Reply option header in the TCP packet.",
    ),
    Field("TCPTimestampValue", "int", "Value of the Timestamp option header in the TCP packet."),
    Field("TCPUrgentPointer", "int", "Value of the Urgent Pointer header field in the TCP packet."),
    Field("TCPWindowScale", "int", "Value of the Window Scale option header in the TCP packet."),
    Field("TCPWindowSize", "int", "Value of the Window Size header field in the TCP packet."),
    Field("UDPChecksum", "int", "Value of the Checksum header field in the UDP packet."),
    Field("UDPPayloadLength", "int", "Value of the Payload Length header field in the UDP packet."),
    Field(
        "Verdict",
        "string",
        "The action that Cloudflare systems think should be taken on the packet.",
        ("pass", "drop"),
    ),
)

#: Spellings used by 2021-2022 jobs and still found in stored logs (reference §1.4).
#: Readers accept them; writers always use the current name. ``ColoID`` has no
#: current equivalent, so it is accepted and dropped.
LEGACY_NAMES: dict[str, str | None] = {
    "ColoID": None,
    "DestinationASNDescription": "DestinationASNName",
    "SourceASNDescription": "SourceASNName",
    "GREEthertype": "GREEtherType",
    "IPTtl": "IPTTL",
    "IPTtlBuckets": "IPTTLBuckets",
    "IPv4Dscp": "IPv4DSCP",
    "IPv4Ecn": "IPv4ECN",
    "IPv6Dscp": "IPv6DSCP",
    "IPv6Ecn": "IPv6ECN",
    "TCPMss": "TCPMSS",
    "TCPSackBlocks": "TCPSACKBlocks",
    "TCPSacksPermitted": "TCPSACKPermitted",
    "TCPTimestampEcr": "TCPTimestampECR",
}

FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
FIELDS_BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
INT_FIELDS: frozenset[str] = frozenset(f.name for f in FIELDS if f.is_int)
STRING_FIELDS: frozenset[str] = frozenset(f.name for f in FIELDS if f.type == "string")

#: The only documented ``RulesetID`` of Cloudflare's L3/4 DDoS managed ruleset.
MANAGED_RULESET_ID = "3b64149bfa6e4220bbbc2bd6db589552"


def canonical_name(name: str) -> str | None:
    """Return the current name for ``name`` (current or legacy), or ``None`` if it is dropped.

    Raises ``KeyError`` for a name the dataset never had.
    """
    if name in FIELDS_BY_NAME:
        return name
    return LEGACY_NAMES[name]


def empty_value(name: str) -> int | str:
    """The value an absent field takes in a record: ``0`` for integers (and ``Datetime``), else ``""``."""
    field = FIELDS_BY_NAME[name]
    return 0 if field.is_int or field.type == "int or string" else ""


def fields_api_result() -> dict[str, str]:
    """The ``datasets/network_analytics_logs/fields`` result: field name -> description."""
    return {f.name: f.description for f in FIELDS}
