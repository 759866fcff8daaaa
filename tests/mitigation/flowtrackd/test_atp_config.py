"""Configuration: Cloudflare's ATP object shapes, defaults, and errors a user can act on."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from netlogpush.mitigation.flowtrackd import AtpRule, FlowtrackdConfig
from netlogpush.mitigation.flowtrackd.config import BURST_PACKETS, RATE_PPS

CLOUDFLARE_EXAMPLE = {
    # The objects of Cloudflare's "Advanced TCP Protection API - JSON objects" page.
    "prefixes": [
        {
            "id": "31c70c65-9f81-4669-94ed-1e1e041e7b06",
            "prefix": "192.0.2.0/24",
            "comment": "Game ranges",
            "excluded": False,
        }
    ],
    "allowlist": [
        {
            "id": "31c70c65-9f81-4669-94ed-1e1e041e7b06",
            "prefix": "192.0.2.0/24",
            "comment": "Game ranges",
            "enabled": True,
        }
    ],
    "syn_protection": {
        "rules": [
            {
                "id": "31c70c65-9f81-4669-94ed-1e1e041e7b06",
                "scope": "region",
                "name": "WEUR",
                "rate_sensitivity": "medium",
                "burst_sensitivity": "medium",
                "mode": "enabled",
            }
        ],
        "filters": [
            {
                "id": "20b99eb6-8b48-48dd-a5b9-a995a0843b57",
                "expression": "ip.dst in { 192.0.2.0/24 203.0.113.0/24 } and tcp.dstport in { 80 443 10000..65535 }",
                "mode": "enabled",
            }
        ],
    },
}


def errors(data: object) -> str:
    with pytest.raises(ValidationError) as info:
        FlowtrackdConfig.model_validate(data)
    return str(info.value)


def test_cloudflare_objects_are_accepted_and_round_trip() -> None:
    cfg = FlowtrackdConfig.model_validate(CLOUDFLARE_EXAMPLE)
    rule = cfg.syn_protection.rules[0]
    assert (rule.scope, rule.name, rule.rate, rule.burst) == ("region", "WEUR", 500, 2500)
    again = FlowtrackdConfig.model_validate(cfg.model_dump())
    assert again == cfg


def test_defaults() -> None:
    cfg = FlowtrackdConfig()
    assert cfg.prefixes == [] and cfg.allowlist == []
    for component in (cfg.syn_protection, cfg.tcp_flow_protection):
        assert component.filters == []
        assert component.rules == [AtpRule()]
        assert component.rules[0].mode == "monitoring"
        assert component.rules[0].scope == "global"
    assert cfg.tracker.table_capacity == 1 << 20
    assert cfg.tracker.seq_window == 1 << 24


def test_sensitivities() -> None:
    assert RATE_PPS == {"high": 100, "medium": 500, "low": 2500}
    assert BURST_PACKETS == {"high": 500, "medium": 2500, "low": 12500}
    rule = AtpRule(rate_sensitivity="high", burst_sensitivity="low")
    assert (rule.rate, rule.burst) == (100, 12500)
    rule = AtpRule(rate_sensitivity=1234, burst_sensitivity=0)
    assert (rule.rate, rule.burst) == (1234, 0)


def test_prefixes_are_canonical() -> None:
    cfg = FlowtrackdConfig.model_validate(
        {"prefixes": [{"prefix": " 2001:DB8::/32 "}, {"prefix": "192.0.2.7"}]}
    )
    assert [p.prefix for p in cfg.prefixes] == ["2001:db8::/32", "192.0.2.7"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"prefixes": [{"prefix": "192.0.2.1/24"}]}, "host bits set; the prefix is 192.0.2.0/24"),
        ({"prefixes": [{"prefix": "192.0.2.0/33"}]}, "is not an IP address or CIDR prefix"),
        (
            {"prefixes": [{"prefix": "192.0.2.0/24", "color": "red"}]},
            "Extra inputs are not permitted",
        ),
        ({"unknown": 1}, "Extra inputs are not permitted"),
        ({"allowlist": [{"comment": "nothing"}]}, "needs a prefix, an expression, or both"),
        (
            {"syn_protection": {"rules": [{"scope": "region"}]}},
            "a region rule needs the region code in name",
        ),
        (
            {"syn_protection": {"rules": [{"scope": "global", "name": "AMS"}]}},
            "a global rule has no name",
        ),
        (
            {"tcp_flow_protection": {"rules": [{}, {"mode": "enabled"}]}},
            "rule 2: a second rule for the global scope",
        ),
        (
            {
                "syn_protection": {
                    "rules": [
                        {"scope": "datacenter", "name": "ams"},
                        {"scope": "datacenter", "name": "AMS"},
                    ]
                }
            },
            "rule 2: a second rule for the datacenter AMS scope",
        ),
        ({"syn_protection": {"rules": [{"rate_sensitivity": "extreme"}]}}, "rate_sensitivity"),
        ({"syn_protection": {"rules": [{"burst_sensitivity": -1}]}}, "burst_sensitivity"),
        (
            {"syn_protection": {"rules": [{"mode": "block"}]}},
            "'monitoring', 'enabled' or 'disabled'",
        ),
        (
            {
                "syn_protection": {
                    "filters": [{"expression": 'ip.proto eq "tcp"', "mode": "enabled"}]
                }
            },
            "uses ip.proto; ATP filters may use only ip.src, ip.dst, tcp.srcport and tcp.dstport",
        ),
        (
            {
                "syn_protection": {
                    "filters": [{"expression": 'bit_slice("tcp", 0, 8) eq 1', "mode": "enabled"}]
                }
            },
            "calls bit_slice(); ATP filters do not support functions",
        ),
        (
            {
                "tcp_flow_protection": {
                    "filters": [{"expression": "ip.src in $partners", "mode": "enabled"}]
                }
            },
            "1:11: unknown list $partners (lists defined: none); ATP filters cannot use named lists",
        ),
        (
            {
                "tcp_flow_protection": {
                    "filters": [{"expression": "tcp.dstport eq", "mode": "enabled"}]
                }
            },
            "1:15: expected a value, got the end of the expression",
        ),
        (
            {
                "tcp_flow_protection": {
                    "filters": [
                        {
                            "expression": "tcp.dstport eq 1" + " or tcp.dstport eq 1" * 500,
                            "mode": "enabled",
                        }
                    ]
                }
            },
            "at most 8192",
        ),
        ({"allowlist": [{"expression": "udp.dstport eq 53"}]}, "uses udp.dstport"),
        ({"tracker": {"table_capacity": 10}}, "greater than or equal to 1024"),
        ({"tracker": {"new_timeout": 0}}, "greater than 0"),
    ],
)
def test_errors_say_what_is_wrong(data: object, message: str) -> None:
    assert message in errors(data)


def test_filter_error_names_the_place() -> None:
    text = errors(
        {
            "syn_protection": {
                "filters": [{"expression": "tcp.dstport in {80 443", "mode": "enabled"}]
            }
        }
    )
    assert "syn_protection.filters.0.expression" in text
    assert "1:23: expected a value or '}', got the end of the expression" in text
