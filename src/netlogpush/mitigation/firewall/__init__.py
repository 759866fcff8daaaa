"""Magic Firewall's rules language: parse, type-check and compile to vectorised evaluation.

>>> rules = CompiledRules(['ip.proto eq "udp" and udp.srcport in {19 1900 11211}'])
>>> first = rules.first_match(PacketView.from_columns(packet_columns, enrichment))

See docs/firewall-rules.md for the fields, operators and what each error means.
"""

from netlogpush.mitigation.firewall.checker import IpLists
from netlogpush.mitigation.firewall.compiler import (
    CompiledExpression,
    CompiledRules,
    check_expression,
    compile_expression,
)
from netlogpush.mitigation.firewall.errors import (
    Position,
    RuleError,
    RuleListError,
    RuleSyntaxError,
    RuleTypeError,
)
from netlogpush.mitigation.firewall.fields import FIELDS, FieldSpec, FieldType
from netlogpush.mitigation.firewall.view import PacketView, StringColumn

__all__ = [
    "FIELDS",
    "CompiledExpression",
    "CompiledRules",
    "FieldSpec",
    "FieldType",
    "IpLists",
    "PacketView",
    "Position",
    "RuleError",
    "RuleListError",
    "RuleSyntaxError",
    "RuleTypeError",
    "StringColumn",
    "check_expression",
    "compile_expression",
]
