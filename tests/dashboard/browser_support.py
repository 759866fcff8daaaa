"""Data for the dashboard's browser tests: real pipeline records (the server: testing.server).

The records come from the real packet pipeline (decode, enrichment, dosd, flowtrackd,
magic-firewall, sampling) run inline on generated captures, placed just before now so that
the dashboard's relative ranges see them:

* ``benign-mixed`` for a minute 20 minutes ago (the previous period of a 15-minute view);
* 6 minutes of benign traffic with a 40 s UDP flood from 13 minutes ago, then 6 minutes with a
  40 s TCP ACK flood, both floods at 203.0.113.10;
* a firewall rule blocking NTP, so magic-firewall drops too.

Source ASNs and countries come from a small iptoasn.com-format table written here (the real
range-file loader reads it), so the ASN and country panels have values.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from netlogpush.config import Settings
from netlogpush.pipeline import pipeline_from_settings
from netlogpush.scenarios.catalog import write_scenario
from netlogpush.scenarios.mixed import CUSTOMER_PREFIXES
from netlogpush.sources.pcap import iter_batches

NS = 1_000_000_000
ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
VICTIM = "203.0.113.10"
NTP_RULE = "udp.dstport eq 123"
BENIGN_PPS = 200.0
ATTACK_PPS = 10_000.0
# (scenario, start relative to now in seconds, duration, attack start, attack duration)
TIMELINE: tuple[tuple[str, int, float, float, float], ...] = (
    ("benign-mixed", -20 * 60, 60.0, 0.0, 0.0),
    ("udp-flood", -13 * 60, 360.0, 60.0, 40.0),
    ("ack-flood", -7 * 60, 360.0, 90.0, 40.0),
)
# Eight ASNs over IPv4's eight /3 blocks (documentation ASNs, made-up names).
ASN_TABLE: tuple[tuple[int, str, str], ...] = (
    (64496, "US", "EXAMPLE-TRANSIT"),
    (64497, "DE", "BEISPIEL-NETZ"),
    (64498, "NL", "VOORBEELD-NET"),
    (64499, "BR", "EXEMPLO-NET"),
    (64500, "CN", "EXAMPLE-CN"),
    (64501, "JP", "REI-NET"),
    (64502, "FR", "EXEMPLE-FR"),
    (64503, "GB", "EXAMPLE-UK"),
)


def write_asn_table(path: Path) -> Path:
    lines = []
    for i, (asn, country, name) in enumerate(ASN_TABLE):
        net = ipaddress.ip_network(f"{i * 32}.0.0.0/3")
        lines.append(f"{net.network_address}\t{net.broadcast_address}\t{asn}\t{country}\t{name}\n")
    path.write_text("".join(lines))
    return path


def settings_for(tmp: Path) -> Settings:
    return Settings.model_validate(
        {
            "customer_prefixes": list(CUSTOMER_PREFIXES),
            "databases": [str(write_asn_table(tmp / "ip2asn-v4.tsv"))],
            "sampling": {"interval": 100, "seed": 1},
            "mitigation": {
                "mode": "inline",
                "firewall": {
                    "ruleset": {
                        "rules": [
                            {"expression": NTP_RULE, "action": "block", "description": "no NTP"}
                        ]
                    }
                },
            },
        }
    )


def build_records(tmp: Path, now_ns: int) -> tuple[pa.Table, Settings]:
    """Run the real pipeline over the timeline's captures; returns every record it sampled."""
    settings = settings_for(tmp)
    pipeline = pipeline_from_settings(settings)
    tables: list[pa.Table] = []
    for seed, (name, offset_s, duration, attack_start, attack_duration) in enumerate(TIMELINE, 1):
        pcap = tmp / f"{name}.pcap"
        write_scenario(
            name,
            pcap,
            seed=seed,
            duration_s=duration,
            attack_start_s=attack_start,
            attack_duration_s=attack_duration,
            benign_pps=BENIGN_PPS,
            attack_pps=ATTACK_PPS,
            start_ns=now_ns + offset_s * NS,
        )
        tables.extend(pipeline.run(iter_batches(pcap)))
    return pa.concat_tables(tables), settings


def rfc3339_ns(ns: int) -> str:
    """Integer ns -> RFC 3339 UTC with nanoseconds, as the dashboard's URLs may carry."""
    seconds, frac = divmod(ns, NS)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def parse_rfc3339_ns(text: str) -> int:
    """RFC 3339 (UTC, ``Z``, up to 9 fraction digits) -> integer ns, without float rounding."""
    assert text.endswith("Z"), text
    main, _, frac = text[:-1].partition(".")
    seconds = int(datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())
    return seconds * NS + int((frac + "000000000")[:9])


@dataclass(frozen=True)
class Expected:
    """Summary numbers computed from the records with pyarrow, independently of the store."""

    packets: int
    dropped_packets: int
    dropped_bytes: int
    attacks: int
    largest_attack_pps: float
    largest_attack_bps: float
    top_source: str


def expected_summary(
    rows: list[dict[str, Any]], start_ns: int, end_ns: int, bucket_s: int
) -> Expected:
    """docs/analytics.md's rules over plain Python rows: a sample counts in "all traffic" when
    it was dropped (Outcome) or passed the last system (magic-firewall); attacks are dosd's
    distinct AttackIDs; an attack's peak is its largest ``bucket_s`` bucket ÷ the bucket length,
    buckets counted from ``start_ns``, or from its minute when they are whole minutes."""
    in_range = [r for r in rows if start_ns <= r["Datetime"] < end_ns]
    counted = [
        r for r in in_range if r["Outcome"] == "drop" or r["MitigationSystem"] == "magic-firewall"
    ]
    dropped = [r for r in counted if r["Outcome"] == "drop"]
    step = bucket_s * NS
    origin = start_ns - start_ns % (60 * NS) if bucket_s % 60 == 0 else start_ns
    per_bucket: dict[tuple[str, int], list[int]] = {}
    for r in in_range:
        if r["MitigationSystem"] != "dosd" or not r["AttackID"]:
            continue
        key = (r["AttackID"], (r["Datetime"] - origin) // step)
        acc = per_bucket.setdefault(key, [0, 0])
        acc[0] += r["SampleInterval"]
        acc[1] += r["SampleInterval"] * r["IPTotalLength"]
    by_source: dict[str, int] = {}
    for r in dropped:
        if r["IPSourceAddress"]:
            by_source[r["IPSourceAddress"]] = (
                by_source.get(r["IPSourceAddress"], 0) + r["SampleInterval"]
            )
    top = sorted(by_source.items(), key=lambda kv: (-kv[1], kv[0]))
    return Expected(
        packets=sum(r["SampleInterval"] for r in counted),
        dropped_packets=sum(r["SampleInterval"] for r in dropped),
        dropped_bytes=sum(r["SampleInterval"] * r["IPTotalLength"] for r in dropped),
        attacks=len({k[0] for k in per_bucket}),
        largest_attack_pps=max((p / bucket_s for p, _ in per_bucket.values()), default=0.0),
        largest_attack_bps=max((b * 8 / bucket_s for _, b in per_bucket.values()), default=0.0),
        top_source=top[0][0] if top else "",
    )
