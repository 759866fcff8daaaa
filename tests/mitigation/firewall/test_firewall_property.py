"""Property tests: random rules on random packets.

Rules are generated as trees, rendered to text with random spellings (English and C-like),
random literal forms and only the parentheses precedence needs. For every packet, three
answers must agree exactly:

* the vectorised compiler on the whole text;
* the per-packet reference interpreter on the whole text;
* the generated tree's meaning, combining the reference's answers for each leaf along the
  tree as generated — so a precedence mistake in the parser shows up as a disagreement.
"""

from __future__ import annotations

import numpy as np
from firewall_support import LISTS, expected, leaves, render, trees, views
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlogpush.mitigation.firewall import (
    CompiledRules,
    IpLists,
    PacketView,
    RuleError,
    check_expression,
    compile_expression,
)
from netlogpush.mitigation.firewall.reference import evaluate

IP_LISTS = IpLists(LISTS)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), view=views())
def test_compiler_agrees_with_reference_and_generated_meaning(
    data: st.DataObject, view: PacketView
) -> None:
    tree = data.draw(trees())
    text = render(tree, data.draw)
    compiled = compile_expression(text, IP_LISTS)
    vectorised = compiled.evaluate(view)
    reference = evaluate(compiled.tree, view, IP_LISTS)
    meaning = expected(
        tree, lambda leaf: evaluate(check_expression(leaf, IP_LISTS), view, IP_LISTS)
    )
    assert vectorised.dtype == np.bool_
    assert vectorised.tolist() == reference.tolist(), text
    assert reference.tolist() == meaning.tolist(), text


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), view=views())
def test_single_comparison_agrees_with_reference(data: st.DataObject, view: PacketView) -> None:
    """One comparison at a time: nothing else in the rule can hide a wrong answer."""
    text = data.draw(leaves())
    compiled = compile_expression(text, IP_LISTS)
    reference = evaluate(compiled.tree, view, IP_LISTS)
    assert compiled.evaluate(view).tolist() == reference.tolist(), text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), view=views())
def test_rule_set_with_shared_subexpressions_agrees(data: st.DataObject, view: PacketView) -> None:
    """Rules sharing sub-expressions (cached once per batch) give each rule its own answer."""
    base = [render(data.draw(trees(4)), data.draw) for _ in range(data.draw(st.integers(1, 4)))]
    texts = base + [f"({a}) and not ({b})" for a, b in zip(base, reversed(base), strict=True)]
    rules = CompiledRules(texts, IP_LISTS)
    masks = rules.evaluate(view)
    for text, mask, rule in zip(texts, masks, rules.rules, strict=True):
        assert mask.tolist() == evaluate(rule.tree, view, IP_LISTS).tolist(), text
    first = rules.first_match(view)
    want = [next((k for k, m in enumerate(masks) if m[i]), -1) for i in range(len(first))]
    assert first.tolist() == want


@settings(max_examples=1500, deadline=None)
@given(st.text(max_size=60))
def test_any_text_compiles_or_raises_a_rule_error(text: str) -> None:
    try:
        compile_expression(text, IP_LISTS)
    except RuleError as err:
        assert str(err).startswith(f"{err.position.line}:{err.position.column}: ")
        assert err.position.column >= 1
        assert 0 <= err.position.offset <= len(text)


_TOKENS = [
    "ip.src", "tcp.dstport", "ip.proto", "tcp.flags.syn", "bit_slice", "udp", "and", "or", "not",
    "xor", "&&", "||", "!", "^^", "==", "eq", "!=", "<", ">=", "in", "contains", "matches",
    "~", "&", "bitwise_and", "wildcard", "strict", "(", ")", "{", "}", ",", "$blocklist", "$nope",
    '"tcp"', '"a\\x41"', 'r#"x"#', "80", "0x1F", "077", "-1", "1..5", "10.0.0.0/8",
    "10.0.0.1/8", "2001:db8::/32", "1.2.3.4..1.2.3.9", "01:02", '"\\q"', '"', "abc", " ",
]  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=14))
def test_token_soup_compiles_or_raises_a_rule_error(tokens: list[str]) -> None:
    text = " ".join(tokens)
    try:
        compile_expression(text, IP_LISTS)
    except RuleError as err:
        assert 0 <= err.position.offset <= len(text)
        assert err.reason
