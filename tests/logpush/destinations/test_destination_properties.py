"""Properties: parse(render(x)) == x for every destination; any string either parses or
raises DestinationConfError; no secret survives redaction, str(), repr() or an error."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from netlogpush.logpush.destinations import (
    REDACTED,
    DatadogDestination,
    Destination,
    DestinationConfError,
    HttpsDestination,
    LocalDestination,
    R2Destination,
    S3Destination,
    SplunkDestination,
    WebSocketDestination,
    parse_destination_conf,
    redact_destination_conf,
)

FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROPS = settings(max_examples=300, deadline=None)

# ---------------------------------------------------------------------------------------
# Strategies for valid destinations (canonical field values)

names = st.from_regex(r"[a-z][a-z0-9\-]{0,8}[a-z0-9]", fullmatch=True)
hosts = st.one_of(
    st.builds(lambda a, b: f"{a}.{b}", names, st.sampled_from(["com", "net", "example", "io"])),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
)
ports = st.none() | st.integers(min_value=1, max_value=65535)
# Any text a URL can carry once encoded: no surrogates.
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
nonempty = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)
header_value = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=12)
header_names = st.from_regex(r"X-[A-Za-z0-9\-]{1,10}", fullmatch=True)
param_names = nonempty.filter(lambda n: not n.startswith("header_"))
hexs = st.text("0123456789abcdef", min_size=32, max_size=32)
guids = st.uuids().map(str)
segments = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="/{}\\\x00"),
    min_size=1,
    max_size=8,
).filter(lambda s: s not in (".", ".."))
templates = st.lists(
    st.one_of(segments, st.just("{DATE}"), segments.map(lambda s: s + "={DATE}")), max_size=3
).map("/".join)


def unique_headers(extra: st.SearchStrategy[str] = header_names) -> st.SearchStrategy[Any]:
    return st.lists(
        st.tuples(extra, header_value), max_size=3, unique_by=lambda kv: kv[0].lower()
    ).map(tuple)


@st.composite
def https_dests(draw: st.DrawFn) -> HttpsDestination:
    scheme = draw(st.sampled_from(["https", "http"]))
    host = (
        draw(st.sampled_from(["127.0.0.1", "::1", "localhost"]))
        if scheme == "http"
        else draw(hosts)
    )
    path = draw(st.just("") | text.map(lambda p: "/" + p))
    params = tuple(draw(st.lists(st.tuples(param_names, text), max_size=3)))
    return HttpsDestination(host, draw(ports), path, params, draw(unique_headers()), scheme)  # type: ignore[arg-type]


@st.composite
def splunk_dests(draw: st.DrawFn) -> SplunkDestination:
    auth = (
        "Authorization",
        "Splunk " + draw(nonempty.filter(lambda s: s.strip() != "" and all(" " <= c != "\x7f" for c in s))),
    )
    others = draw(
        unique_headers().filter(lambda hs: all(n.lower() != "authorization" for n, _ in hs))
    )
    opt = st.none() | nonempty
    return SplunkDestination(
        host=draw(hosts),
        channel=draw(guids),
        headers=(auth, *others),
        port=draw(ports),
        endpoint=draw(st.sampled_from(["raw", "event"])),
        insecure_skip_verify=draw(st.booleans()),
        sourcetype=draw(opt),
        source=draw(opt),
        index=draw(opt),
        event_host=draw(opt),
        ack=draw(st.booleans()),
    )


aws_buckets = st.from_regex(r"[a-z0-9][a-z0-9\-]{1,20}[a-z0-9]", fullmatch=True)
regions = st.from_regex(r"[a-z]{2}-[a-z]{4,7}-[1-9]", fullmatch=True).filter(
    lambda r: r not in ("cn-north-1", "cn-northwest-1") and not r.startswith("us-gov-")
)


@st.composite
def s3_dests(draw: st.DrawFn) -> S3Destination:
    path = draw(templates)
    sse = draw(st.sampled_from([None, "AES256"]))
    if draw(st.booleans()):  # AWS
        keys = draw(st.none() | st.tuples(nonempty, nonempty))
        return S3Destination(
            bucket=draw(aws_buckets),
            region=draw(regions),
            path=path,
            sse=sse,  # type: ignore[arg-type]
            access_key_id=None if keys is None else keys[0],
            secret_access_key=None if keys is None else keys[1],
        )
    key_id, secret = draw(st.tuples(nonempty, nonempty))
    return S3Destination(
        bucket=draw(
            st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._\-]{1,20}[A-Za-z0-9]", fullmatch=True).filter(
                lambda b: ".." not in b and not all(p.isdigit() for p in b.split("."))
            )
        ),
        region=draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,10}", fullmatch=True)),
        path=path,
        sse=sse,  # type: ignore[arg-type]
        access_key_id=key_id,
        secret_access_key=secret,
        endpoint=draw(hosts),
        endpoint_port=draw(ports),
        endpoint_scheme=draw(st.sampled_from(["https", "http"])),
    )


@st.composite
def r2_dests(draw: st.DrawFn) -> R2Destination:
    return R2Destination(
        bucket=draw(aws_buckets),
        account_id=draw(hexs),
        access_key_id=draw(nonempty),
        secret_access_key=draw(nonempty),
        path=draw(templates),
    )


@st.composite
def datadog_dests(draw: st.DrawFn) -> DatadogDestination:
    key = ("DD-API-KEY", draw(header_value.filter(bool)))
    others = draw(unique_headers().filter(lambda hs: all(n.lower() != "dd-api-key" for n, _ in hs)))
    return DatadogDestination(
        host=draw(hosts),
        headers=(key, *others),
        path=draw(st.sampled_from(["/v1/input", "/api/v2/logs"])),
        port=draw(ports),
        params=tuple(draw(st.lists(st.tuples(param_names, text), max_size=4))),
    )


ws_dests = st.builds(WebSocketDestination, hosts, hexs, ports, st.sampled_from(["wss", "ws"]))
local_dests = templates.map(lambda t: LocalDestination("/" + t))
destinations = st.one_of(
    https_dests(), splunk_dests(), s3_dests(), r2_dests(), datadog_dests(), ws_dests, local_dests
)


@PROPS
@given(destinations)
def test_parse_render_round_trip(d: Destination) -> None:
    rendered = d.render()
    assert parse_destination_conf(rendered) == d
    assert parse_destination_conf(rendered).render() == rendered


# ---------------------------------------------------------------------------------------
# Fuzz: anything in, a destination or DestinationConfError out

SCHEMES = ["https", "http", "splunk", "s3", "r2", "datadog", "ws", "wss", "file", "gs", "x"]
url_chars = st.lists(
    st.sampled_from([*string.printable, "%2", "%41", "%zz", "{DATE}", "header_", "é", "\x00"]),
    max_size=40,
).map("".join)


def _parse_or_error(conf: str) -> None:
    try:
        d = parse_destination_conf(conf)
    except DestinationConfError as exc:
        assert str(exc).startswith("invalid destination_conf: ")
        assert len(str(exc)) < 400
    else:
        assert parse_destination_conf(d.render()) == d
    redact_destination_conf(conf)  # must not raise either


@FUZZ
@given(st.text(max_size=80))
def test_fuzz_any_text(conf: str) -> None:
    _parse_or_error(conf)


@FUZZ
@given(st.sampled_from(SCHEMES), url_chars)
def test_fuzz_after_a_scheme(scheme: str, rest: str) -> None:
    _parse_or_error(f"{scheme}://{rest}")


@FUZZ
@given(st.binary(max_size=80))
def test_fuzz_bytes(raw: bytes) -> None:
    _parse_or_error(raw.decode("latin-1"))


@FUZZ
@given(destinations, st.data())
def test_fuzz_mutated_valid_confs(d: Destination, data: st.DataObject) -> None:
    conf = d.render()
    i = data.draw(st.integers(0, len(conf)))
    j = data.draw(st.integers(i, min(len(conf), i + 4)))
    insert = data.draw(st.sampled_from(["", "&", "=", "?", "/", "%", "..", ":", "{", "#", "@"]))
    _parse_or_error(conf[:i] + insert + conf[j:])


# ---------------------------------------------------------------------------------------
# Redaction: no secret survives

secrets_ = st.text(string.ascii_letters + string.digits, min_size=13, max_size=24).map(
    lambda s: "Zq9" + s
)


@st.composite
def with_secret(draw: st.DrawFn) -> tuple[Destination, str]:
    secret = draw(secrets_)
    host = draw(hosts)
    kind = draw(st.integers(0, 9))
    d: Destination
    if kind == 0:
        d = HttpsDestination(host, headers=(("Authorization", "Bearer " + secret),))
    elif kind == 1:
        d = HttpsDestination(host, params=(("api-key", secret), ("tags", "a")))
    elif kind == 2:
        d = HttpsDestination(host, path=f"/hooks/{secret}/x")
    elif kind == 3:
        d = HttpsDestination(host, headers=(("X-Custom-Auth", secret),))
    elif kind == 4:
        d = SplunkDestination(host, draw(guids), (("Authorization", "Splunk " + secret),))
    elif kind == 5:
        d = S3Destination("bucket-1", "us-east-1", access_key_id="AKIA1", secret_access_key=secret)
    elif kind == 6:
        d = S3Destination(
            "bucket-1", "auto", access_key_id="id", secret_access_key=secret, endpoint=host
        )
    elif kind == 7:
        d = R2Destination("bucket-1", "0" * 32, "id", secret, "logs/{DATE}")
    elif kind == 8:
        d = DatadogDestination(
            host, (("DD-API-KEY", secret),), params=(("ddsource", "cloudflare"),)
        )
    else:
        d = WebSocketDestination(
            host,
            secret.lower()[:32]
            .ljust(32, "0")
            .translate(str.maketrans("ghijklmnopqrstuvwxyz", "0123456789abcdef0123")),
        )
        secret = d.session_id
    return d, secret


def _hidden(secret: str, shown: str) -> None:
    assert secret not in shown
    assert secret.lower() not in shown.lower() or secret.isdigit()


@PROPS
@given(with_secret())
def test_no_secret_survives_redaction(case: tuple[Destination, str]) -> None:
    d, secret = case
    conf = d.render()
    assert secret in conf  # the test is meaningful: the secret is in the conf
    assume(parse_destination_conf(conf) == d)
    for shown in (d.redacted(), str(d), repr(d), redact_destination_conf(conf)):
        _hidden(secret, shown)
        assert REDACTED in shown


@PROPS
@given(with_secret(), st.sampled_from(["region", "channel", "account-id", "v1", "instant"]))
def test_no_secret_survives_redaction_of_a_broken_conf(
    case: tuple[Destination, str], breaker: str
) -> None:
    d, secret = case
    # Break the conf so it no longer parses (a typo in a parameter name or the path).
    broken = d.render().replace(breaker, breaker.upper()).replace("?", "?oops=1&", 1)
    try:
        parse_destination_conf(broken)
    except DestinationConfError as exc:
        _hidden(secret, str(exc))
    _hidden(secret, redact_destination_conf(broken))


@PROPS
@given(
    secrets_,
    st.sampled_from(
        [
            "https://h/?token=%s%%zz",
            "s3://b-1?region=r&secret-access-key=%s%%2",
            "https://h/?header_X=%s%%0A",
        ]
    ),
)
def test_errors_never_echo_secret_values(secret: str, template: str) -> None:
    conf = template.replace("%s", secret, 1)
    try:
        parse_destination_conf(conf)
    except DestinationConfError as exc:
        _hidden(secret, str(exc))
