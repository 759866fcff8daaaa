"""The rules language: which expressions compile, what they mean, and the exact error for
those that do not."""

from __future__ import annotations

import ipaddress

import pytest

from netlogpush.mitigation.firewall import (
    IpLists,
    RuleListError,
    RuleSyntaxError,
    RuleTypeError,
    check_expression,
)
from netlogpush.mitigation.firewall import typed as t
from netlogpush.mitigation.firewall.fields import FIELDS
from netlogpush.mitigation.firewall.literals import IpRange

LISTS = IpLists(
    {
        "endpoints": ["192.0.2.0/24"],
        "internal_routers": ["198.51.100.1"],
        "web_servers": ["203.0.113.0/28"],
        "iplist": ["10.0.0.1", "10.10.0.0/24"],
        "office_network": ["192.0.2.0/25"],
        "cf.anonymizer": ["100.64.0.0/10"],
    }
)

CLOUDFLARE_IPS = (
    "173.245.48.0/20 103.21.244.0/22 103.22.200.0/22 103.31.4.0/22 141.101.64.0/18 "
    "108.162.192.0/18 190.93.240.0/20 188.114.96.0/20 197.234.240.0/22 198.41.128.0/17 "
    "162.158.0.0/15 104.16.0.0/13 104.24.0.0/14 172.64.0.0/13 131.0.72.0/22"
)

DOCS_EXAMPLES = [
    # Magic Firewall "Extended ruleset" (magic-firewall/best-practices/extended-ruleset.mdx)
    'ip.proto eq "tcp" and ip.dst in $endpoints and tcp.dstport in {32768..60999} and not (tcp.flags.syn and not tcp.flags.ack)',
    'ip.proto eq "udp" and ip.dst in $endpoints and udp.dstport in {32768..60999}',
    'ip.proto eq "icmp" and ip.dst in $endpoints and (icmp.type eq 0 or icmp.type eq 3 or icmp.type eq 11)',
    "ip.dst in $endpoints",
    'ip.proto eq "icmp" and ip.dst in $internal_routers and ( (icmp.type eq 0 or icmp.type eq 3) or (icmp.type eq 11) or (icmp.type eq 8) )',
    'ip.proto eq "tcp" and tcp.srcport in {32768..60999} and ip.dst in $web_servers and tcp.dstport in {80 443} and not (tcp.flags.syn and tcp.flags.ack)',
    'ip.dst in $web_servers and ip.proto eq "udp" and udp.srcport in {53 123} and udp.dstport in {1024..65535}',
    f'ip.proto eq "tcp" and ip.dst in $web_servers and tcp.dstport in {{80 443}} and not (tcp.flags.syn and tcp.flags.ack) and ip.src in {{{CLOUDFLARE_IPS}}}',
    # Magic Firewall "Minimal ruleset" (magic-firewall/best-practices/minimal-ruleset.mdx)
    "(udp.srcport in {1900 11211 389 111 19 1194 3702 10001 20800 161 162 137 27005 520 0})",
    "(tcp.srcport in {21 0 3306})",
    '(ip.proto eq "hopopt") or (not ip.proto in {"esp" "tcp" "udp" "gre" "icmp"})',
    # Magic Firewall "Add rules" (magic-firewall/how-to/add-rules.mdx)
    "tcp.dstport in { 8080 } ",
    "tcp.dstport in { 1..65535 }",
    'ip.geoip.country == "BR"',
    "ip.src in $cf.anonymizer",
    # "Use IP lists" (magic-firewall/how-to/use-rules-list.mdx)
    "ip.src in $iplist",
    # Rules language "Values" (ruleset-engine/rules-language/values.mdx)
    "ip.src in {198.51.100.1 198.51.100.3..198.51.100.7 192.0.2.0/24 2001:0db8::/32}",
    "tcp.dstport in {8000..8009 8080..8089}",
    "(ip.src in $office_network)",
    # Rules language "Operators" (ruleset-engine/rules-language/operators.mdx)
    "ip.src ne 203.0.113.0",
    # "Magic Firewall fields" (magic-firewall/reference/magic-firewall-fields.mdx): the sip guard
    'ip.proto == "udp" and sip',
    # "Functions" (ruleset-engine/rules-language/functions.mdx): UDP payload starts at bit 64
    'bit_slice("udp", 64, 72) == 0x47',
    # Advanced TCP Protection filter and DDoS override examples (cloudflare-spec.md §6.1, §6.2)
    "ip.dst in { 192.0.2.0/24 203.0.113.0/24 } and tcp.dstport in { 80 443 10000..65535 }",
    "ip.dst in { 1.1.1.0/24 }",
]


@pytest.mark.parametrize("text", DOCS_EXAMPLES)
def test_cloudflare_documentation_examples_compile(text: str) -> None:
    assert isinstance(check_expression(text, LISTS), (t.Logical, t.Compare, t.IsTrue, t.Not))


VALID = [
    # every field of the Magic Firewall field reference
    *[f"{name}" for name, s in FIELDS.items() if s.type.value == "Boolean"],
    'cf.colo.name == "sfo06"',
    'cf.colo.region eq "WNAM"',
    'icmp contains "abc"',
    "icmp.type == 8 and icmp.code == 0",
    "ip contains 45:00",
    "ip.dst == 192.0.2.2",
    'ip.dst.country eq "GB"',
    'ip.src.country in {"GB" "US"}',
    "ip.hdr_len > 5",
    "ip.len ge 60",
    "ip.opt.type == 25",
    'ip.proto in {"tcp" "icmp" "253"}',
    "ip.ttl lt 54",
    "ip.src.asnum == 13335",
    "ip.dst.asnum in {15169 13335}",
    'tcp matches r"^\\x16\\x03"',
    "tcp.flags == 0x12",
    "tcp.flags & 0x02",
    "tcp.flags bitwise_and 18",
    "tcp.srcport != 0",
    "tcp.dstport <= 1024",
    'udp contains {"a" "b"}',
    "udp.srcport > 1023",
    "udp.dstport >= 33434 && udp.dstport <= 33534",
    # C-like spellings
    "!tcp.flags.syn || tcp.flags.ack ^^ tcp.flags.fin && tcp.flags.reset",
    'cf.colo.name ~ "^sfo"',
    'cf.colo.name wildcard "SFO*"',
    'cf.colo.name strict wildcard "sfo*"',
    # literals
    "ip.ttl == 0x40",
    "ip.ttl == 0100",
    "ip.src.asnum != -1",
    'cf.colo.name == "a\\"b\\\\c\\x41\\101"',
    'cf.colo.name == r#"a"b"#',
    'cf.colo.name == r##"a"#b"##',
    "cf.colo.name == 73:66-6f.30",
    "ip.src in {}",
    "ip.src in {::1 ::ffff:192.0.2.1 fe80::/10 2001:db8::1..2001:db8::9}",
    "ip.src == ::ffff:1.2.3.4",
    # layout
    'ip.proto eq "tcp"\n  and\ttcp.dstport in {\n 80\n 443 }',
    "((((tcp.flags.syn))))",
    "not not not tcp.flags.syn",
]


@pytest.mark.parametrize("text", VALID)
def test_valid_expressions_compile(text: str) -> None:
    check_expression(text, LISTS)


# (expression, error class, exact message: line:column: reason)
INVALID = [
    ('ip.src in { abc }', RuleTypeError, "1:13: expected an IP address or CIDR after 'in {' for ip.src, got \"abc\""),
    ("ip.src in {10.0.0.1/24}", RuleTypeError, "1:12: 10.0.0.1/24 after 'in {' for ip.src has host bits set; write the network address 10.0.0.0/24"),
    ("ip.src in {2001:db8::1/32}", RuleTypeError, "1:12: 2001:db8::1/32 after 'in {' for ip.src has host bits set; write the network address 2001:db8::/32"),
    ("ip.src == 10.0.0.0/8", RuleTypeError, "1:11: expected an IP address after '==' for ip.src, got \"10.0.0.0/8\" (to match a network or range write 'in {10.0.0.0/8}')"),
    ("ip.src in 10.0.0.0/8", RuleSyntaxError, "1:11: expected '{' or a list name such as $my_list, got \"10.0.0.0/8\"; put the values in braces: in {10.0.0.0/8}"),
    ("ip.src > 1.2.3.4", RuleTypeError, "1:8: '>' cannot be used with ip.src (an IP address field); use eq, ne or in"),
    ('ip.src contains "10."', RuleTypeError, "1:8: 'contains' cannot be used with ip.src (an IP address field); use eq, ne or in"),
    ("ip.src in {1.2.3.4..1.2.3.1}", RuleTypeError, "1:12: the range 1.2.3.4..1.2.3.1 after 'in {' for ip.src must run from a lower to a higher address of one family"),
    ("ip.src in {1.2.3.4..::1}", RuleTypeError, "1:12: the range 1.2.3.4..::1 after 'in {' for ip.src must run from a lower to a higher address of one family"),
    ('tcp.dstport == "80"', RuleTypeError, "1:16: expected an integer after '==' for tcp.dstport, got the string \"80\" (numbers are written without quotes)"),
    ("tcp.dstport == 08", RuleTypeError, "1:16: expected an integer after '==' for tcp.dstport, got \"08\" (a leading 0 makes an octal number, which has no digit 8 or 9)"),
    ("tcp.dstport in {80,443}", RuleSyntaxError, "1:19: expected a value or '}', got \",\"; items of a set are separated by spaces, not commas"),
    ("tcp.dstport in {443..80}", RuleTypeError, "1:17: the range 443..80 after 'in {' for tcp.dstport ends before it starts; write 80..443"),
    ("tcp.dstport == 9223372036854775808", RuleTypeError, "1:16: 9223372036854775808 after '==' for tcp.dstport is outside the 64-bit integer range"),
    ("tcp.dstport", RuleTypeError, "1:12: expected an operator after tcp.dstport (a Number field), for example tcp.dstport eq …"),
    ('tcp.dstport matches "8"', RuleTypeError, "1:13: 'matches' cannot be used with tcp.dstport (a Number field); use eq, ne, lt, le, gt, ge, in or bitwise_and"),
    ("tcp.flags.syn == 1", RuleTypeError, "1:15: tcp.flags.syn is a Boolean field and takes no operator: write tcp.flags.syn or not tcp.flags.syn"),
    ('tcp.flags & "x"', RuleTypeError, "1:13: expected an integer after '&' for tcp.flags, got the string \"x\""),
    ("ip.sorce == 1.2.3.4", RuleTypeError, "1:1: unknown field \"ip.sorce\"; did you mean ip.src?"),
    ("IP.SRC == 1.2.3.4", RuleTypeError, "1:1: unknown field \"IP.SRC\"; field names are lower case: ip.src"),
    ('http.host eq "example.com"', RuleTypeError, "1:1: unknown field \"http.host\"; see docs/firewall-rules.md for the fields"),
    ('lower(ip.proto) == "tcp"', RuleTypeError, "1:1: unknown function \"lower\"; Magic Firewall rules have one function, bit_slice(protocol, start, end)"),
    ('bit_slice("udp", 64) == 1', RuleTypeError, "1:20: bit_slice takes 3 arguments (protocol, offset_start, offset_end), got 2"),
    ('bit_slice("eth", 0, 8) == 1', RuleTypeError, "1:11: expected a protocol, \"ip\", \"tcp\", \"udp\" or \"icmp\", as bit_slice's first argument, got the string \"eth\""),
    ('bit_slice("udp", 64, 100) == 1', RuleTypeError, "1:22: bit_slice's offset_end must be 1 to 32 bits after offset_start (a slice is at most 32 bits), got 64 and 100"),
    ('bit_slice("udp", 2030, 2048) == 1', RuleTypeError, "1:24: bit_slice's offsets cannot exceed 2040 bits, got 2048"),
    ('bit_slice("udp", -1, 8) == 1', RuleTypeError, "1:18: bit_slice's offset_start cannot be negative"),
    ('bit_slice("udp", 8, 16)', RuleTypeError, "1:1: expected an operator after bit_slice(\"udp\", 8, 16) (a Number field), for example bit_slice(\"udp\", 8, 16) eq …"),
    ('ip.proto eq "TCP"', RuleTypeError, "1:13: unknown protocol \"TCP\" for ip.proto; did you mean \"tcp\"?"),
    ('ip.proto in {"tcp" "icmpv6"}', RuleTypeError, "1:20: unknown protocol \"icmpv6\" for ip.proto; did you mean \"ipv6-icmp\"?"),
    ('ip.proto eq "6"', RuleTypeError, "1:13: unknown protocol \"6\" for ip.proto; did you mean \"tcp\"?"),
    ("ip.src in $nope", RuleTypeError, "1:11: unknown list $nope (lists defined: $cf.anonymizer, $endpoints, $internal_routers, $iplist, $office_network, $web_servers)"),
    ("tcp.dstport in $endpoints", RuleTypeError, "1:16: lists hold IP addresses; tcp.dstport (a Number field) cannot be tested against $endpoints"),
    ("ip.src in $Bad", RuleTypeError, "1:11: invalid list name \"$Bad\": list names use only lower-case letters, digits and \"_\""),
    ('ip.proto eq "a\\qb"', RuleTypeError, "1:15: invalid escape \"\\q\" in a string; write \\\", \\\\, \\xHH or \\NNN (octal)"),
    ('ip.proto matches "("', RuleTypeError, "1:18: invalid regular expression: missing ), unterminated subpattern at position 0"),
    ('cf.colo.name wildcard "a**"', RuleTypeError, "1:25: a wildcard pattern cannot contain '**'"),
    ('udp == "x"', RuleTypeError, "1:5: '==' cannot be used with udp (a String field); use contains or matches, or read its bits with bit_slice(...)"),
    ("ip.src.country contains 12", RuleTypeError, "1:25: expected a string in double quotes after 'contains' for ip.src.country, got \"12\""),
    ("cf.colo.name matches sfo", RuleTypeError, "1:22: expected a regular expression in double quotes after 'matches' for cf.colo.name, got \"sfo\""),
    ("tcp.flags.syn AND tcp.flags.ack", RuleSyntaxError, "1:15: expected an operator (eq, ne, lt, le, gt, ge, in, contains, matches, bitwise_and, wildcard), a logical operator (and, xor, or) or the end of the expression, got \"AND\"; operators are written in lower case: 'and'"),
    ("ip.src = 1.2.3.4", RuleSyntaxError, "1:8: expected an operator (eq, ne, lt, le, gt, ge, in, contains, matches, bitwise_and, wildcard), a logical operator (and, xor, or) or ')', got \"=\"; write '==' or 'eq' to test equality"),
    ('(ip.proto eq "tcp"', RuleSyntaxError, "1:19: expected a logical operator (and, xor, or) or ')', got the end of the expression"),
    ('ip.proto eq "tcp")', RuleSyntaxError, "1:18: expected a logical operator (and, xor, or) or the end of the expression, got \")\"; this ')' has no matching '('"),
    ('ip.proto eq "tcp', RuleSyntaxError, "1:13: this string has no closing quote '\"'"),
    ("", RuleSyntaxError, "1:1: expected a field such as ip.src, 'not' or '(', got the end of the expression"),
    ("not", RuleSyntaxError, "1:4: expected a field such as ip.src, 'not' or '(', got the end of the expression"),
    ('ip.proto eq "tcp" tcp.flags.syn', RuleSyntaxError, "1:19: expected a logical operator (and, xor, or) or the end of the expression, got \"tcp.flags.syn\"; join comparisons with 'and' or 'or'"),
    ("ip.len > ", RuleSyntaxError, "1:9: expected a value, got the end of the expression"),
    ("tcp.dstport eq 80 &&& ip.ttl eq 1", RuleSyntaxError, "1:21: expected a field such as ip.src, 'not' or '(', got \"&\""),
    ('ip.proto eq "tcp" and\n  ip.src in { 1.2.3.4 bogus }', RuleTypeError, "2:23: expected an IP address or CIDR after 'in {' for ip.src, got \"bogus\""),
    ("ip.ttl eq 1 EQ", RuleSyntaxError, "1:13: expected a logical operator (and, xor, or) or the end of the expression, got \"EQ\"; operators are written in lower case: 'eq'"),
    ("not " * 101 + "tcp.flags.syn", RuleSyntaxError, "1:5: the expression nests deeper than 100 levels of '(' and 'not'"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "error", "message"), INVALID)
def test_invalid_expressions_report_position_and_expectation(
    text: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        check_expression(text, LISTS)
    assert str(caught.value) == message
    err = caught.value
    assert f"{err.position.line}:{err.position.column}" == message.split(": ", 1)[0]  # type: ignore[attr-defined]
    assert err.expected  # type: ignore[attr-defined]


def test_error_attributes() -> None:
    with pytest.raises(RuleTypeError) as caught:
        check_expression("ip.src in { abc }")
    err = caught.value
    assert (err.position.line, err.position.column, err.position.offset) == (1, 13, 12)
    assert err.expected == "an IP address or CIDR"
    assert err.reason == "expected an IP address or CIDR after 'in {' for ip.src, got \"abc\""
    assert isinstance(err, ValueError)


def test_bad_list_entries_name_the_list_and_entry() -> None:
    with pytest.raises(
        RuleListError,
        match=r"list \$office, entry 2: 10\.0\.0\.1/8 in list \$office has host bits set",
    ):
        IpLists({"office": ["192.0.2.1", "10.0.0.1/8"]})
    with pytest.raises(RuleListError, match=r"list \$bad, entry 1: expected an IP address or CIDR"):
        IpLists({"bad": ["example.com"]})
    with pytest.raises(RuleListError, match="list name 'Office'"):
        IpLists({"Office": []})


# -- what parses into what ----------------------------------------------------------------


def _shape(e: t.Expr) -> object:
    """A compact form of a typed tree: ('and', …), ('not', …) or the field name of a leaf."""
    if isinstance(e, t.Logical):
        return (e.op.value, *(_shape(i) for i in e.items))
    if isinstance(e, t.Not):
        return ("not", _shape(e.arg))
    return e.operand.spec.name.rsplit(".", 1)[-1]


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        # not > and > xor > or (Cloudflare's order of precedence)
        ("tcp.flags.syn or tcp.flags.ack and tcp.flags.fin", ("or", "syn", ("and", "ack", "fin"))),
        ("tcp.flags.syn and tcp.flags.ack or tcp.flags.fin", ("or", ("and", "syn", "ack"), "fin")),
        (
            "tcp.flags.syn xor tcp.flags.ack and tcp.flags.fin",
            ("xor", "syn", ("and", "ack", "fin")),
        ),
        ("tcp.flags.syn or tcp.flags.ack xor tcp.flags.fin", ("or", "syn", ("xor", "ack", "fin"))),
        ("tcp.flags.syn ^^ tcp.flags.ack || tcp.flags.fin", ("or", ("xor", "syn", "ack"), "fin")),
        ("not tcp.flags.syn and tcp.flags.ack", ("and", ("not", "syn"), "ack")),
        ("! tcp.flags.syn || tcp.flags.ack", ("or", ("not", "syn"), "ack")),
        ("not (tcp.flags.syn and tcp.flags.ack)", ("not", ("and", "syn", "ack"))),
        (
            "tcp.flags.syn and (tcp.flags.ack or tcp.flags.fin)",
            ("and", "syn", ("or", "ack", "fin")),
        ),
        # chains of one operator are one node
        ("tcp.flags.syn and tcp.flags.ack && tcp.flags.fin", ("and", "syn", "ack", "fin")),
        (
            "tcp.flags.urg or tcp.flags.syn and tcp.flags.ack xor tcp.flags.fin or tcp.flags.push",
            ("or", "urg", ("xor", ("and", "syn", "ack"), "fin"), "push"),
        ),
        # `not` binds to one comparison, as in wirefilter
        ("not ip.ttl == 1 and tcp.flags.ack", ("and", ("not", "ttl"), "ack")),
        ("not not tcp.flags.syn", ("not", ("not", "syn"))),
    ],
)
def test_precedence(text: str, shape: object) -> None:
    assert _shape(check_expression(text)) == shape


def test_literals_are_read_as_wirefilter_reads_them() -> None:
    def value(text: str) -> object:
        e = check_expression(text)
        assert isinstance(e, t.Compare)
        return e.value

    assert value("ip.ttl == 0x1F") == 31
    assert value("ip.ttl == 017") == 15  # leading zero: octal
    assert value("ip.ttl == 0") == 0
    assert value("ip.ttl == -12") == -12
    assert value("ip.ttl in {1 3..5 0x10..0x11}") == t.IntSet(((1, 1), (3, 5), (16, 17)))
    assert value('cf.colo.name == "a\\"b\\\\c"') == b'a"b\\c'
    assert value('cf.colo.name == "\\x41\\102\\xff"') == b"AB\xff"
    assert value('cf.colo.name == "é"') == "é".encode()
    assert value('cf.colo.name == r#"say "hi""#') == b'say "hi"'
    assert value('cf.colo.name == r"\\x41"') == b"\\x41"  # no escapes in raw strings
    assert value("cf.colo.name == 01:2e-f3.00") == b"\x01\x2e\xf3\x00"
    assert value('cf.colo.name matches "a\\.b\\"c"') == t.Pattern(b'a\\.b"c')  # regex escaping
    assert value('cf.colo.name matches r"a\\.b"') == t.Pattern(b"a\\.b")
    assert value("ip.src == 2001:DB8::1") == ipaddress.ip_address("2001:db8::1")
    assert value("ip.src in {192.0.2.0/24 1.2.3.4 1.2.3.4..1.2.3.9}") == t.IpSet(
        (
            ipaddress.ip_network("192.0.2.0/24"),
            ipaddress.ip_network("1.2.3.4/32"),
            IpRange(ipaddress.ip_address("1.2.3.4"), ipaddress.ip_address("1.2.3.9")),
        )
    )
    bits = check_expression("bit_slice(udp, 64, 80) == 1")
    assert isinstance(bits, t.Compare) and bits.operand == t.BitSlice(FIELDS["udp"], 64, 80)


def test_same_subexpression_in_two_places_is_one_key() -> None:
    """Typed nodes compare by structure, not position: the per-batch cache relies on it."""
    a = check_expression('ip.proto eq "tcp" and tcp.flags.syn')
    b = check_expression('tcp.dstport == 22 or (ip.proto == "tcp" && tcp.flags.syn)')
    assert isinstance(a, t.Logical) and isinstance(b, t.Logical)
    assert b.items[1] == a and hash(b.items[1]) == hash(a)
