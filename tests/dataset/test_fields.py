"""The dataset's 84 fields: names, order, types, enumerations, legacy names, the fields API."""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa
import pytest

from netlogpush.dataset.fields import (
    FIELD_NAMES,
    FIELDS,
    FIELDS_BY_NAME,
    INT_FIELDS,
    LEGACY_NAMES,
    MANAGED_RULESET_ID,
    STRING_FIELDS,
    canonical_name,
    empty_value,
    fields_api_result,
)
from netlogpush.dataset.records import SCHEMA, empty_table, make_table

#: Cloudflare's field list (reference §1.2), in the order Cloudflare lists it.
EXPECTED_NAMES = [
    "AttackCampaignID",
    "AttackID",
    "AttackVector",
    "ColoCity",
    "ColoCode",
    "ColoCountry",
    "ColoGeoHash",
    "ColoName",
    "DNSQueryName",
    "DNSQueryType",
    "Datetime",
    "DestinationASN",
    "DestinationASNName",
    "DestinationCountry",
    "DestinationGeoHash",
    "DestinationPort",
    "Direction",
    "GREChecksum",
    "GREEtherType",
    "GREHeaderLength",
    "GREKey",
    "GRESequenceNumber",
    "GREVersion",
    "ICMPChecksum",
    "ICMPCode",
    "ICMPType",
    "IPDestinationAddress",
    "IPDestinationSubnet",
    "IPFragmentOffset",
    "IPHeaderLength",
    "IPMoreFragments",
    "IPProtocol",
    "IPProtocolName",
    "IPSourceAddress",
    "IPSourceSubnet",
    "IPTTL",
    "IPTTLBuckets",
    "IPTotalLength",
    "IPTotalLengthBuckets",
    "IPv4Checksum",
    "IPv4DSCP",
    "IPv4DontFragment",
    "IPv4ECN",
    "IPv4Identification",
    "IPv4Options",
    "IPv6DSCP",
    "IPv6ECN",
    "IPv6ExtensionHeaders",
    "IPv6FlowLabel",
    "IPv6Identification",
    "MitigationReason",
    "MitigationScope",
    "MitigationSystem",
    "Outcome",
    "PFPCustomTag",
    "ProtocolState",
    "RuleID",
    "RuleName",
    "RulesetID",
    "RulesetOverrideID",
    "SampleInterval",
    "SourceASN",
    "SourceASNName",
    "SourceCountry",
    "SourceGeoHash",
    "SourcePort",
    "TCPAcknowledgementNumber",
    "TCPChecksum",
    "TCPDataOffset",
    "TCPFlags",
    "TCPFlagsString",
    "TCPMSS",
    "TCPOptions",
    "TCPSACKBlocks",
    "TCPSACKPermitted",
    "TCPSequenceNumber",
    "TCPTimestampECR",
    "TCPTimestampValue",
    "TCPUrgentPointer",
    "TCPWindowScale",
    "TCPWindowSize",
    "UDPChecksum",
    "UDPPayloadLength",
    "Verdict",
]

EXPECTED_INTS = {
    "DestinationASN", "DestinationPort", "GREChecksum", "GREEtherType", "GREHeaderLength", "GREKey",
    "GRESequenceNumber", "GREVersion", "ICMPChecksum", "ICMPCode", "ICMPType", "IPFragmentOffset",
    "IPHeaderLength", "IPMoreFragments", "IPProtocol", "IPTTL", "IPTTLBuckets", "IPTotalLength",
    "IPTotalLengthBuckets", "IPv4Checksum", "IPv4DSCP", "IPv4DontFragment", "IPv4ECN",
    "IPv4Identification", "IPv6DSCP", "IPv6ECN", "IPv6FlowLabel", "IPv6Identification",
    "PFPCustomTag", "SampleInterval", "SourceASN", "SourcePort", "TCPAcknowledgementNumber",
    "TCPChecksum", "TCPDataOffset", "TCPFlags", "TCPMSS", "TCPSACKPermitted", "TCPSequenceNumber",
    "TCPTimestampECR", "TCPTimestampValue", "TCPUrgentPointer", "TCPWindowScale", "TCPWindowSize",
    "UDPChecksum", "UDPPayloadLength",
}  # fmt: skip

EXPECTED_ENUMS = {
    "Direction": ("ingress", "egress"),
    "MitigationReason": (
        "BLOCKED", "RATE_LIMITED", "UNEXPECTED", "CHALLENGE_NEEDED", "CHALLENGE_PASSED",
        "NOT_FOUND", "OUT_OF_SEQUENCE", "ALREADY_CLOSED",
    ),
    "MitigationScope": ("local", "global"),
    "MitigationSystem": ("dosd", "flowtrackd", "magic-firewall"),
    "Outcome": ("pass", "drop"),
    "ProtocolState": ("OPEN", "NEW", "CLOSING", "CLOSED"),
    "Verdict": ("pass", "drop"),
}  # fmt: skip


def test_exactly_the_84_documented_fields_in_cloudflare_order() -> None:
    assert len(EXPECTED_NAMES) == 84
    assert list(FIELD_NAMES) == EXPECTED_NAMES
    assert len(set(FIELD_NAMES)) == 84
    # Cloudflare lists them in plain code-point order (so "DNSQueryName" before "Datetime").
    assert list(FIELD_NAMES) == sorted(FIELD_NAMES)
    assert list(FIELDS_BY_NAME) == EXPECTED_NAMES


def test_types() -> None:
    assert set(INT_FIELDS) == EXPECTED_INTS
    assert FIELDS_BY_NAME["Datetime"].type == "int or string"
    assert set(STRING_FIELDS) == set(EXPECTED_NAMES) - EXPECTED_INTS - {"Datetime"}
    assert all(f.is_int == (f.name in EXPECTED_INTS) for f in FIELDS)


def test_enums_as_documented() -> None:
    assert {f.name: f.enum for f in FIELDS if f.enum} == EXPECTED_ENUMS
    assert MANAGED_RULESET_ID == "3b64149bfa6e4220bbbc2bd6db589552"


def test_descriptions() -> None:
    assert all(f.description and f.description == f.description.strip() for f in FIELDS)
    assert FIELDS_BY_NAME["SampleInterval"].description == (
        "The sample interval is the inverse of the sample rate. For example, a sample interval of "
        "1000 means that this packet was randomly sampled from 1 in 1000 packets. Sample rates are "
        "dynamic and based on the volume of traffic."
    )
    assert FIELDS_BY_NAME["IPSourceSubnet"].description == (
        "Computed subnet of the Source Address header field in the IPv4 or IPv6 packet (/24 for "
        "IPv4; /64 for IPv6)."
    )
    assert FIELDS_BY_NAME["IPTTLBuckets"].description.endswith(", with the last digit truncated.")


def test_fields_api_result_shape() -> None:
    result = fields_api_result()
    assert list(result) == EXPECTED_NAMES
    assert all(isinstance(v, str) and v for v in result.values())
    assert result["Direction"] == "The direction in relation to customer network."
    assert orjson.loads(orjson.dumps(result)) == result


def test_legacy_names() -> None:
    assert LEGACY_NAMES == {
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
    assert not set(LEGACY_NAMES) & set(FIELD_NAMES)
    assert canonical_name("IPTtl") == "IPTTL"
    assert canonical_name("IPTTL") == "IPTTL"
    assert canonical_name("ColoID") is None
    with pytest.raises(KeyError):
        canonical_name("ClientIP")


def test_empty_values() -> None:
    assert empty_value("SourcePort") == 0
    assert empty_value("AttackID") == ""
    with pytest.raises(KeyError):
        empty_value("Nope")


def test_schema() -> None:
    assert SCHEMA.names == EXPECTED_NAMES
    for f in SCHEMA:
        assert not f.nullable
        want = pa.int64() if f.name in EXPECTED_INTS or f.name == "Datetime" else pa.string()
        assert f.type == want, f.name
    assert empty_table().num_rows == 0 and empty_table().schema == SCHEMA


def test_make_table_fills_absent_fields_with_empty_values() -> None:
    table = make_table(
        {"SourcePort": np.array([1, 2], np.uint32), "AttackID": "x", "SampleInterval": 10,
         "RuleName": pa.array(["a", "b"])},
        2,
    )  # fmt: skip
    rows = table.to_pylist()
    assert [r["SourcePort"] for r in rows] == [1, 2]
    assert [r["AttackID"] for r in rows] == ["x", "x"]
    assert [r["SampleInterval"] for r in rows] == [10, 10]
    assert [r["RuleName"] for r in rows] == ["a", "b"]
    assert rows[0]["Datetime"] == 0 and rows[0]["ColoName"] == "" and rows[1]["TCPMSS"] == 0
    assert table.schema == SCHEMA


def test_make_table_rejects_unknown_fields_and_wrong_lengths() -> None:
    with pytest.raises(KeyError, match="ClientIP"):
        make_table({"ClientIP": "1.2.3.4"}, 1)
    with pytest.raises(ValueError, match="SourcePort has 3 values for 2 records"):
        make_table({"SourcePort": np.arange(3)}, 2)
