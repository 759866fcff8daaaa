"""The ClickHouse schema for ``network_analytics_logs`` at scale, generated from the field list.

``dashboards/clickhouse/schema.sql`` is this module's output (``python -m
netlogpush.analytics.clickhouse_schema``); a test checks the two are equal, so the file cannot
drift from ``dataset/fields.py``. Decisions (docs/siem-dashboards.md):

* ``Datetime`` is ``DateTime64(9, 'UTC')``: Grafana's time macros and ClickHouse's date
  functions work on it, and it keeps Cloudflare's nanoseconds. Logpush sends ``unixnano``
  integers by default, which ClickHouse will not parse into a DateTime64 (they overflow as
  seconds), so inserts go to ``<table>_ingest``: a Null table whose ``Datetime`` is text and a
  materialized view converting every ``timestamp_format`` (unixnano, unix, rfc3339*).
* Integers get the width of their header field, unsigned (Cloudflare writes 0 for "absent",
  never a negative); a field without a known width stays ``Int64``.
* Low-cardinality strings (enumerations, colo, rule and attack identifiers) are
  ``LowCardinality(String)``; addresses, geohashes of sources and free text stay ``String``.
* ``PARTITION BY toDate(Datetime)`` so retention drops whole days (``TTL``), and
  ``ORDER BY (MitigationSystem, Outcome, Datetime)``: every dashboard query selects by system
  and outcome (the no-double-counting rule, docs/analytics.md) and then by time.
* ``<table>_1m``: packets, bytes and samples per minute and per ``ROLLUP_DIMENSIONS`` value
  (the dimensions of the DuckDB store's roll-ups), filled by a materialized view on insert.
"""

from __future__ import annotations

import sys

from netlogpush.analytics.store import ROLLUP_DIMENSIONS
from netlogpush.dataset.fields import FIELDS, Field

TABLE = "network_analytics_logs"

# Widths of the header fields (RFC 791/8200/793/768/2784/792) and of the other counters.
INT_TYPES: dict[str, str] = {
    "DestinationASN": "UInt32",
    "SourceASN": "UInt32",
    "DestinationPort": "UInt16",
    "SourcePort": "UInt16",
    "GREChecksum": "UInt16",
    "GREEtherType": "UInt16",
    "GREHeaderLength": "UInt8",
    "GREKey": "UInt32",
    "GRESequenceNumber": "UInt32",
    "GREVersion": "UInt8",
    "ICMPChecksum": "UInt16",
    "ICMPCode": "UInt8",
    "ICMPType": "UInt8",
    "IPFragmentOffset": "UInt16",
    "IPHeaderLength": "UInt16",  # IPv6: fixed header plus extension headers, can pass 255
    "IPMoreFragments": "UInt8",
    "IPProtocol": "UInt8",
    "IPTTL": "UInt8",
    "IPTTLBuckets": "UInt8",
    "IPTotalLength": "UInt32",  # IPv6: 40 + a 16-bit payload length, can pass 65535
    "IPTotalLengthBuckets": "UInt32",
    "IPv4Checksum": "UInt16",
    "IPv4DSCP": "UInt8",
    "IPv4DontFragment": "UInt8",
    "IPv4ECN": "UInt8",
    "IPv4Identification": "UInt16",
    "IPv6DSCP": "UInt8",
    "IPv6ECN": "UInt8",
    "IPv6FlowLabel": "UInt32",
    "IPv6Identification": "UInt32",
    "SampleInterval": "UInt32",  # documented up to 1,000,000
    "TCPAcknowledgementNumber": "UInt32",
    "TCPChecksum": "UInt16",
    "TCPDataOffset": "UInt8",
    "TCPFlags": "UInt16",  # nine flag bits with NS
    "TCPMSS": "UInt16",
    "TCPSACKPermitted": "UInt8",
    "TCPSequenceNumber": "UInt32",
    "TCPTimestampECR": "UInt32",
    "TCPTimestampValue": "UInt32",
    "TCPUrgentPointer": "UInt16",
    "TCPWindowScale": "UInt8",
    "TCPWindowSize": "UInt16",
    "UDPChecksum": "UInt16",
    "UDPPayloadLength": "UInt32",
}

# Strings with few distinct values per day: dictionary-encoded.
LOW_CARDINALITY: frozenset[str] = frozenset(
    {
        "AttackCampaignID",
        "AttackID",
        "AttackVector",
        "ColoCity",
        "ColoCode",
        "ColoCountry",
        "ColoGeoHash",
        "ColoName",
        "DNSQueryType",
        "DestinationASNName",
        "DestinationCountry",
        "DestinationGeoHash",
        "Direction",
        "IPDestinationSubnet",
        "IPProtocolName",
        "IPv4Options",
        "IPv6ExtensionHeaders",
        "MitigationReason",
        "MitigationScope",
        "MitigationSystem",
        "Outcome",
        "ProtocolState",
        "RuleID",
        "RuleName",
        "RulesetID",
        "RulesetOverrideID",
        "SourceCountry",
        "TCPFlagsString",
        "TCPOptions",
        "Verdict",
    }
)

ORDER_BY: tuple[str, ...] = ("MitigationSystem", "Outcome", "Datetime")
# Columns a drill-down looks up by value (an attack's samples, one address).
BLOOM_INDEXES: tuple[str, ...] = ("AttackID", "IPSourceAddress", "IPDestinationAddress")

# Text of Datetime in an insert -> DateTime64(9): 19 digits are unixnano, up to 11 are unix
# seconds, anything else is RFC 3339 (rfc3339, rfc3339ms, rfc3339ns).
DATETIME_FROM_TEXT = (
    "multiIf(match(Datetime, '^[0-9]{19}$'), fromUnixTimestamp64Nano(toInt64(Datetime), 'UTC'), "
    "match(Datetime, '^[0-9]{1,11}$'), toDateTime64(toInt64(Datetime), 9, 'UTC'), "
    "parseDateTime64BestEffort(Datetime, 9, 'UTC'))"
)


def column_type(field: Field) -> str:
    """The ClickHouse type of one dataset field."""
    if field.name == "Datetime":
        return "DateTime64(9, 'UTC')"
    if field.is_int:
        return INT_TYPES.get(field.name, "Int64")
    return "LowCardinality(String)" if field.name in LOW_CARDINALITY else "String"


def _columns(datetime_type: str | None = None) -> str:
    lines = []
    for f in FIELDS:
        kind = datetime_type if f.name == "Datetime" and datetime_type else column_type(f)
        codec = " CODEC(Delta, ZSTD(1))" if f.name == "Datetime" and not datetime_type else ""
        lines.append(f"    `{f.name}` {kind}{codec}")
    return ",\n".join(lines)


def create_table(table: str = TABLE, raw_days: int = 30) -> str:
    indexes = "".join(
        f",\n    INDEX idx_{c} `{c}` TYPE bloom_filter(0.01) GRANULARITY 4" for c in BLOOM_INDEXES
    )
    return (
        f"CREATE TABLE IF NOT EXISTS {table}\n(\n{_columns()}{indexes}\n)\n"
        "ENGINE = MergeTree\n"
        "PARTITION BY toDate(Datetime)\n"
        f"ORDER BY ({', '.join(ORDER_BY)})\n"
        f"TTL toDateTime(Datetime) + INTERVAL {int(raw_days)} DAY DELETE\n"
        "SETTINGS ttl_only_drop_parts = 1;\n"
    )


def create_ingest(table: str = TABLE) -> str:
    """The Null table Logpush output is inserted into, and the view that converts Datetime."""
    others = ", ".join(f"`{f.name}`" for f in FIELDS if f.name != "Datetime")
    return (
        f"CREATE TABLE IF NOT EXISTS {table}_ingest\n(\n{_columns('String')}\n)\n"
        "ENGINE = Null;\n\n"
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {table}_ingest_mv TO {table} AS\n"
        f"SELECT {DATETIME_FROM_TEXT} AS Datetime, {others}\n"
        f"FROM {table}_ingest;\n"
    )


def create_rollup(table: str = TABLE, minute_days: int = 400) -> str:
    by_name = {f.name: f for f in FIELDS}
    dims = ",\n".join(f"    `{d}` {column_type(by_name[d])}" for d in ROLLUP_DIMENSIONS)
    # SummingMergeTree adds up rows with equal sorting keys, so every dimension is in the key.
    key = ", ".join(
        ["MitigationSystem", "Outcome", "Datetime"]
        + [d for d in ROLLUP_DIMENSIONS if d not in ("MitigationSystem", "Outcome")]
    )
    group = ", ".join(f"`{d}`" for d in ROLLUP_DIMENSIONS)
    return (
        f"CREATE TABLE IF NOT EXISTS {table}_1m\n(\n"
        "    `Datetime` DateTime('UTC'),\n"
        f"{dims},\n"
        "    `packets` UInt64,\n    `bytes` UInt64,\n    `samples` UInt64\n)\n"
        "ENGINE = SummingMergeTree((packets, bytes, samples))\n"
        "PARTITION BY toYYYYMM(Datetime)\n"
        f"ORDER BY ({key})\n"
        f"TTL Datetime + INTERVAL {int(minute_days)} DAY DELETE;\n\n"
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {table}_1m_mv TO {table}_1m AS\n"
        f"SELECT toStartOfMinute(toDateTime(Datetime, 'UTC')) AS Datetime, {group},\n"
        "    sum(SampleInterval) AS packets, sum(IPTotalLength * SampleInterval) AS bytes,\n"
        "    count() AS samples\n"
        f"FROM {table}\nGROUP BY Datetime, {group};\n"
    )


def schema_sql(table: str = TABLE, raw_days: int = 30, minute_days: int = 400) -> str:
    """Every statement, in creation order, separated by blank lines (split on ``;\\n``)."""
    head = (
        "-- netlogpush: ClickHouse schema for Cloudflare's network_analytics_logs dataset.\n"
        "-- Generated by `python -m netlogpush.analytics.clickhouse_schema`; do not edit.\n"
        "-- Insert Logpush output (any timestamp_format) into the _ingest table; query the\n"
        f"-- {table} table (raw samples, {raw_days} days) or {table}_1m (per minute).\n"
        "-- Volume estimates: packets = sum(SampleInterval), bytes = sum(IPTotalLength *\n"
        "-- SampleInterval). All traffic: count a sample when Outcome = 'drop' or when\n"
        "-- MitigationSystem = 'magic-firewall' (the last system), never twice.\n\n"
    )
    return (
        head
        + create_table(table, raw_days)
        + "\n"
        + create_ingest(table)
        + "\n"
        + create_rollup(table, minute_days)
    )


def statements(sql: str) -> list[str]:
    """Split a schema text into statements (no ``;`` appears inside one)."""
    body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


if __name__ == "__main__":
    sys.stdout.write(schema_sql())
