"""Table tests: each documented destination_conf form parses to exact values, renders back
to its canonical text, and each broken form fails with its exact message."""

from __future__ import annotations

import pytest

from netlogpush.logpush.destinations import (
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

GUID = "0f9e7d4c-1b2a-4c3d-8e9f-a0b1c2d3e4f5"
ACCOUNT = "0123456789abcdef0123456789abcdef"
SESSION = "99aabbccddeeff00112233445566778f"

VALID: list[tuple[str, Destination, str]] = [
    # (conf, parsed value, canonical render)
    (  # http.mdx example, verbatim
        "https://logs.example.com?header_Authorization=Basic%20REDACTED"
        "&tags=host:theburritobot.com,dataset:http_requests",
        HttpsDestination(
            host="logs.example.com",
            params=(("tags", "host:theburritobot.com,dataset:http_requests"),),
            headers=(("Authorization", "Basic REDACTED"),),
        ),
        "https://logs.example.com?tags=host:theburritobot.com,dataset:http_requests"
        "&header_Authorization=Basic%20REDACTED",
    ),
    (  # New Relic (api-configuration.mdx): the key is an ordinary query parameter
        "https://log-api.newrelic.com/log/v1?Api-Key=NRAK123&format=cloudflare",
        HttpsDestination(
            host="log-api.newrelic.com",
            path="/log/v1",
            params=(("Api-Key", "NRAK123"), ("format", "cloudflare")),
        ),
        "https://log-api.newrelic.com/log/v1?Api-Key=NRAK123&format=cloudflare",
    ),
    (  # '+' is a space in a query (as in Go), host is case-folded, port kept
        "https://Logs.Example.COM:9443/in%20put?header_Content-Type=application/json&q=a+b",
        HttpsDestination(
            host="logs.example.com",
            port=9443,
            path="/in put",
            params=(("q", "a b"),),
            headers=(("Content-Type", "application/json"),),
        ),
        "https://logs.example.com:9443/in%20put?q=a%20b&header_Content-Type=application/json",
    ),
    (
        "http://127.0.0.1:8080/ingest",
        HttpsDestination(host="127.0.0.1", port=8080, path="/ingest", scheme="http"),
        "http://127.0.0.1:8080/ingest",
    ),
    (
        "http://[::1]:8080/",
        HttpsDestination(host="::1", port=8080, path="/", scheme="http"),
        "http://[::1]:8080/",
    ),
    (  # splunk.mdx form
        f"splunk://splunk.cf-analytics.com:8088/services/collector/raw?channel={GUID}"
        "&insecure-skip-verify=false&sourcetype=cloudflare:json"
        "&header_Authorization=Splunk%20e6d94e8c-5792-4ad1-be3c-29bcaee0197d",
        SplunkDestination(
            host="splunk.cf-analytics.com",
            port=8088,
            channel=GUID,
            headers=(("Authorization", "Splunk e6d94e8c-5792-4ad1-be3c-29bcaee0197d"),),
            sourcetype="cloudflare:json",
        ),
        f"splunk://splunk.cf-analytics.com:8088/services/collector/raw?channel={GUID}"
        "&insecure-skip-verify=false&sourcetype=cloudflare:json"
        "&header_Authorization=Splunk%20e6d94e8c-5792-4ad1-be3c-29bcaee0197d",
    ),
    (  # netlogpush extensions: event endpoint, ack, index/source/host; Go bool spelling
        f"splunk://hec.local/services/collector/event?header_Authorization=Splunk%20t"
        f"&channel={GUID}&insecure-skip-verify=T&ack=1&index=net&source=nlp&host=edge1",
        SplunkDestination(
            host="hec.local",
            channel=GUID,
            headers=(("Authorization", "Splunk t"),),
            endpoint="event",
            insecure_skip_verify=True,
            source="nlp",
            index="net",
            event_host="edge1",
            ack=True,
        ),
        f"splunk://hec.local/services/collector/event?channel={GUID}&insecure-skip-verify=true"
        "&source=nlp&host=edge1&index=net&ack=true&header_Authorization=Splunk%20t",
    ),
    (  # api-configuration.mdx example
        "s3://mybucket/logs/{DATE}?region=us-east-1&sse=AES256",
        S3Destination(bucket="mybucket", region="us-east-1", path="logs/{DATE}", sse="AES256"),
        "s3://mybucket/logs/{DATE}?region=us-east-1&sse=AES256",
    ),
    (  # OAS example; trailing slash dropped in the canonical form
        "s3://mybucket/logs/?region=us-west-2",
        S3Destination(bucket="mybucket", region="us-west-2", path="logs"),
        "s3://mybucket/logs?region=us-west-2",
    ),
    (
        "s3://mybucket?region=eu-west-1&access-key-id=AKIAEXAMPLE&secret-access-key=wJalr%2BXY",
        S3Destination(
            bucket="mybucket",
            region="eu-west-1",
            access_key_id="AKIAEXAMPLE",
            secret_access_key="wJalr+XY",
        ),
        "s3://mybucket?region=eu-west-1&access-key-id=AKIAEXAMPLE&secret-access-key=wJalr%2BXY",
    ),
    (  # s3-compatible-endpoints.mdx form
        "s3://Space_Logs/cf/{DATE}?region=sfo2&access-key-id=DO00K&secret-access-key=s3cr3t"
        "&endpoint=sfo2.digitaloceanspaces.com",
        S3Destination(
            bucket="Space_Logs",
            region="sfo2",
            path="cf/{DATE}",
            access_key_id="DO00K",
            secret_access_key="s3cr3t",
            endpoint="sfo2.digitaloceanspaces.com",
        ),
        "s3://Space_Logs/cf/{DATE}?region=sfo2&access-key-id=DO00K&secret-access-key=s3cr3t"
        "&endpoint=sfo2.digitaloceanspaces.com",
    ),
    (  # GovCloud through the compatible form; https:// prefix on the endpoint is accepted
        "s3://gov-logs?region=us-gov-west-1&access-key-id=a&secret-access-key=b"
        "&endpoint=https://s3.us-gov-west-1.amazonaws.com",
        S3Destination(
            bucket="gov-logs",
            region="us-gov-west-1",
            access_key_id="a",
            secret_access_key="b",
            endpoint="s3.us-gov-west-1.amazonaws.com",
        ),
        "s3://gov-logs?region=us-gov-west-1&access-key-id=a&secret-access-key=b"
        "&endpoint=s3.us-gov-west-1.amazonaws.com",
    ),
    (  # MinIO on loopback over plain http (extension)
        "s3://nal?region=us-east-1&access-key-id=minio&secret-access-key=minio123"
        "&endpoint=http://127.0.0.1:9000",
        S3Destination(
            bucket="nal",
            region="us-east-1",
            access_key_id="minio",
            secret_access_key="minio123",
            endpoint="127.0.0.1",
            endpoint_port=9000,
            endpoint_scheme="http",
        ),
        "s3://nal?region=us-east-1&access-key-id=minio&secret-access-key=minio123"
        "&endpoint=http://127.0.0.1:9000",
    ),
    (  # r2.mdx form, and the TF-style Hive path
        f"r2://cloudflare-logs/http_requests/date={{DATE}}?account-id={ACCOUNT}"
        "&access-key-id=k1&secret-access-key=k2",
        R2Destination(
            bucket="cloudflare-logs",
            account_id=ACCOUNT,
            access_key_id="k1",
            secret_access_key="k2",
            path="http_requests/date={DATE}",
        ),
        f"r2://cloudflare-logs/http_requests/date={{DATE}}?account-id={ACCOUNT}"
        "&access-key-id=k1&secret-access-key=k2",
    ),
    (  # datadog.mdx form
        "datadog://http-intake.logs.datadoghq.com/v1/input"
        "?header_DD-API-KEY=20e6d94e8c57924ad1be3c29bcaee0197d&ddsource=cloudflare"
        "&service=nal&host=edge&ddtags=env%3Aprod%2Cteam%3Anet",
        DatadogDestination(
            host="http-intake.logs.datadoghq.com",
            headers=(("DD-API-KEY", "20e6d94e8c57924ad1be3c29bcaee0197d"),),
            params=(
                ("ddsource", "cloudflare"),
                ("service", "nal"),
                ("host", "edge"),
                ("ddtags", "env:prod,team:net"),
            ),
        ),
        "datadog://http-intake.logs.datadoghq.com/v1/input?ddsource=cloudflare&service=nal"
        "&host=edge&ddtags=env:prod,team:net&header_DD-API-KEY=20e6d94e8c57924ad1be3c29bcaee0197d",
    ),
    (
        "datadog://http-intake.logs.datadoghq.eu/api/v2/logs?header_dd-api-key=k",
        DatadogDestination(
            host="http-intake.logs.datadoghq.eu",
            path="/api/v2/logs",
            headers=(("dd-api-key", "k"),),
        ),
        "datadog://http-intake.logs.datadoghq.eu/api/v2/logs?header_dd-api-key=k",
    ),
    (
        f"wss://nlp.example.net/instant-logs/ws/sessions/{SESSION}",
        WebSocketDestination(host="nlp.example.net", session_id=SESSION),
        f"wss://nlp.example.net/instant-logs/ws/sessions/{SESSION}",
    ),
    (
        f"ws://127.0.0.1:8600/instant-logs/ws/sessions/{SESSION}",
        WebSocketDestination(host="127.0.0.1", session_id=SESSION, port=8600, scheme="ws"),
        f"ws://127.0.0.1:8600/instant-logs/ws/sessions/{SESSION}",
    ),
    (
        "file:///var/log/netlogpush/{DATE}",
        LocalDestination(path="/var/log/netlogpush/{DATE}"),
        "file:///var/log/netlogpush/{DATE}",
    ),
    (
        "file://localhost/srv/nal%20logs/",
        LocalDestination(path="/srv/nal logs"),
        "file:///srv/nal%20logs",
    ),
]


@pytest.mark.parametrize(("conf", "expected", "canonical"), VALID)
def test_valid_conf_parses_to_exact_value(conf: str, expected: Destination, canonical: str) -> None:
    parsed = parse_destination_conf(conf)
    assert parsed == expected
    assert type(parsed) is type(expected)
    assert parsed.render() == canonical
    assert parse_destination_conf(canonical) == expected


INVALID: list[tuple[str, str]] = [
    ("", "destination_conf: is required"),
    (
        "s3://a b?region=x",
        "destination_conf: must not contain spaces or control characters "
        '(found " "); URL-encode them, e.g. %20 for a space',
    ),
    ("x" * 4097, "destination_conf: must be at most 4096 characters, got 4097"),
    (
        "mybucket/logs",
        "scheme: destination_conf must have the form <scheme>://<destination-address>",
    ),
    (
        "ftp://host/x",
        'scheme: unsupported scheme "ftp" (supported: datadog, file, http, https, '
        "r2, s3, splunk, ws, wss)",
    ),
    (
        "gs://bucket/logs",
        "scheme: gs destinations are not supported by netlogpush (supported: "
        "datadog, file, http, https, r2, s3, splunk, ws, wss)",
    ),
    ("https://h/x#frag", "destination_conf: must not contain a fragment (#)"),
    # https
    ("https://", "host: is required"),
    ("https://bad_host-.com", 'host: "bad_host-.com" is not a valid host name'),
    ("https://1.2.3.999/", 'host: "1.2.3.999" is not a valid IPv4 address'),
    ("https://[::g]/", 'host: "::g" is not an IPv6 address'),
    ("https://[::1/", "host: IPv6 address is missing its closing ]"),
    ("https://h:99999/", "port: must be a number from 1 to 65535, got 99999"),
    ("https://h:x/", 'port: must be a number from 1 to 65535, got "x"'),
    (
        "https://u:pw@h/",
        "host: must not contain user information (user@); pass credentials as "
        "header_Authorization or the destination's key parameters",
    ),
    (
        "http://logs.example.com/",
        "scheme: http is only accepted for loopback hosts; the endpoint must use https",
    ),
    ("https://h/%zz", 'path: invalid URL escape "%zz"'),
    ("https://h/?token=%G1", "token: invalid URL escape (write % as %25)"),
    ("https://h/?x=%ff", "x: is not valid UTF-8 once percent-decoded"),
    ("https://h/?=v", 'query: empty parameter name in "=v"'),
    ("https://h/?header_=v", "header_: header name must be a non-empty HTTP token"),
    ("https://h/?header_A%20B=v", "header_A B: header name must be a non-empty HTTP token"),
    (
        "https://h/?header_X=a%0D%0AEvil:1",
        "header_X: header value must not contain control characters",
    ),
    (
        "https://h/?header_Content-Length=1",
        "header_Content-Length: header is set by the sender and cannot be overridden",
    ),
    ("https://h/?header_X-A=1&header_x-a=2", "header_x-a: header is given more than once"),
    # splunk
    (
        f"splunk://h:8088/services/collector?channel={GUID}&header_Authorization=Splunk%20t",
        "path: must be /services/collector/raw (or /services/collector/event, a netlogpush "
        'extension), got "/services/collector"',
    ),
    (
        f"splunk://h/services/collector/raw?channel={GUID}",
        'header_Authorization: parameter is required (the HEC token, URL-encoded: "Splunk%20<token>")',
    ),
    (
        f"splunk://h/services/collector/raw?channel={GUID}&header_Authorization=",
        "header_Authorization: must not be empty",
    ),
    (
        "splunk://h/services/collector/raw?header_Authorization=Splunk%20t",
        "channel: parameter is required",
    ),
    (
        "splunk://h/services/collector/raw?channel=abc&header_Authorization=Splunk%20t",
        'channel: must be a GUID, got "abc"',
    ),
    (
        f"splunk://h/services/collector/raw?channel={GUID}&channel={GUID}"
        "&header_Authorization=Splunk%20t",
        "channel: must be given at most once",
    ),
    (
        f"splunk://h/services/collector/raw?channel={GUID}&insecure-skip-verify=yes"
        "&header_Authorization=Splunk%20t",
        'insecure-skip-verify: must be true or false, got "yes"',
    ),
    (
        f"splunk://h/services/collector/raw?channel={GUID}&sourcetype="
        "&header_Authorization=Splunk%20t",
        "sourcetype: must not be empty when given",
    ),
    (
        f"splunk://h/services/collector/raw?channel={GUID}&token=x&header_Authorization=Splunk%20t",
        "token: unknown parameter (allowed: ack, channel, header_*, host, index, "
        "insecure-skip-verify, source, sourcetype)",
    ),
    # s3
    ("s3://mybucket/logs", "region: parameter is required"),
    ("s3://mybucket?region=us%20east", 'region: "us east" is not a valid region name'),
    ("s3://mybucket?region=cn-north-1", "region: buckets in cn-north-1 are not supported"),
    (
        "s3://mybucket?region=us-gov-west-1",
        "region: AWS GovCloud buckets must use the S3-compatible form with endpoint=",
    ),
    (
        "s3://mybucket?region=us-east-1&sse=aws:kms",
        'sse: the only supported value is AES256, got "aws:kms"',
    ),
    (
        "s3://My_Bucket?region=us-east-1",
        'bucket: "My_Bucket" is not a valid bucket name (AWS rules: 3-63 of a-z 0-9 . -)',
    ),
    (
        "s3://my..bucket?region=us-east-1",
        'bucket: "my..bucket" is not a valid bucket name (AWS rules: 3-63 of a-z 0-9 . -)',
    ),
    (
        "s3://192.168.1.1?region=us-east-1",
        'bucket: "192.168.1.1" must not be formatted as an IP address',
    ),
    ("s3://?region=us-east-1", "bucket: is required"),
    ("s3://mybucket:9000?region=us-east-1", "port: a bucket takes no port"),
    (
        "s3://mybucket?region=us-east-1&access-key-id=a",
        "secret-access-key: parameter is required when the other access key parameter is given",
    ),
    (
        "s3://mybucket?region=us-east-1&secret-access-key=a",
        "access-key-id: parameter is required when the other access key parameter is given",
    ),
    (
        "s3://mybucket?region=x&endpoint=minio.local",
        "access-key-id: parameter is required with endpoint= (S3-compatible storage)",
    ),
    (
        "s3://mybucket?region=x&access-key-id=a&secret-access-key=b&endpoint=h.example/bucket",
        "endpoint: must be a host name without bucket, path or query, e.g. "
        "sfo2.digitaloceanspaces.com",
    ),
    ("s3://mybucket/a//b?region=x", 'path: must not contain empty, . or .. segments, got "/a//b"'),
    (
        "s3://mybucket/a/../b?region=x",
        'path: must not contain empty, . or .. segments, got "/a/../b"',
    ),
    (
        "s3://mybucket/{date}?region=x",
        'path: only the {DATE} placeholder is supported, got "/{date}"',
    ),
    (
        "s3://mybucket?region=x&acl=private",
        "acl: unknown parameter (allowed: access-key-id, endpoint, region, secret-access-key, sse)",
    ),
    # r2
    ("r2://logs?access-key-id=a&secret-access-key=b", "account-id: parameter is required"),
    (f"r2://logs?account-id={ACCOUNT}&secret-access-key=b", "access-key-id: parameter is required"),
    (f"r2://logs?account-id={ACCOUNT}&access-key-id=a", "secret-access-key: parameter is required"),
    (
        "r2://logs?account-id=123&access-key-id=a&secret-access-key=b",
        'account-id: must be 32 lower-case hex characters, got "123"',
    ),
    (
        f"r2://Logs?account-id={ACCOUNT}&access-key-id=a&secret-access-key=b",
        'bucket: "Logs" is not a valid bucket name (3-63 of a-z 0-9 -)',
    ),
    (
        f"r2://logs?account-id={ACCOUNT}&access-key-id=&secret-access-key=b",
        "access-key-id: must not be empty",
    ),
    # datadog
    (
        "datadog://http-intake.logs.datadoghq.com/v1/input?ddsource=cloudflare",
        "header_DD-API-KEY: parameter is required",
    ),
    (
        "datadog://http-intake.logs.datadoghq.com/v1/input?header_DD-API-KEY=",
        "header_DD-API-KEY: must not be empty",
    ),
    (
        "datadog://http-intake.logs.datadoghq.com/?header_DD-API-KEY=k",
        'path: must be /v1/input or /api/v2/logs, got "/"',
    ),
    # websocket
    ("wss://h/logs", "path: must be /instant-logs/ws/sessions/<SESSION_ID>"),
    ("wss://h/instant-logs/ws/sessions/XYZ", "session_id: must be 32 lower-case hex characters"),
    (
        f"wss://h/instant-logs/ws/sessions/{SESSION}?sample=10",
        "sample: unknown parameter (allowed: )",
    ),
    # local
    ("file://host/var/log", "host: must be empty or localhost (file:///<absolute path>)"),
    ("file://", "path: must be an absolute directory, e.g. file:///var/log/netlogpush"),
    (
        "file:///var/log/../../etc",
        'path: must not contain empty, . or .. segments, got "/var/log/../../etc"',
    ),
    ("file:///var/log?mode=0600", "mode: unknown parameter (allowed: )"),
]


@pytest.mark.parametrize(("conf", "message"), INVALID)
def test_invalid_conf_fails_with_exact_message(conf: str, message: str) -> None:
    with pytest.raises(DestinationConfError) as info:
        parse_destination_conf(conf)
    assert str(info.value) == f"invalid destination_conf: {message}"
    assert message.startswith(f"{info.value.parameter}: ")
    assert info.value.rule == message[len(info.value.parameter) + 2 :]


def test_https_request_url_drops_header_params_and_keeps_the_rest() -> None:
    d = parse_destination_conf(
        "https://logs.example.com:8443/a/b?header_Authorization=Bearer%20t0k&tags=x:1,y:2&tags=z"
    )
    assert isinstance(d, HttpsDestination)
    assert d.request_url() == "https://logs.example.com:8443/a/b?tags=x:1,y:2&tags=z"
    assert d.headers == (("Authorization", "Bearer t0k"),)
    assert d.verify_tls is True


def test_splunk_urls_carry_only_hec_metadata() -> None:
    d = parse_destination_conf(
        f"splunk://splunk.example.com:8088/services/collector/raw?channel={GUID}"
        "&insecure-skip-verify=true&sourcetype=cloudflare:json&ack=true"
        "&header_Authorization=Splunk%20abc"
    )
    assert isinstance(d, SplunkDestination)
    assert d.request_url() == (
        f"https://splunk.example.com:8088/services/collector/raw?channel={GUID}"
        "&sourcetype=cloudflare:json"
    )
    assert d.ack_url() == f"https://splunk.example.com:8088/services/collector/ack?channel={GUID}"
    assert d.verify_tls is False
    assert d.headers == (("Authorization", "Splunk abc"),)


def test_datadog_request_url_keeps_datadog_params() -> None:
    d = parse_destination_conf(
        "datadog://http-intake.logs.datadoghq.com/api/v2/logs?header_DD-API-KEY=k"
        "&ddsource=cloudflare&ddtags=a:b"
    )
    assert isinstance(d, DatadogDestination)
    assert d.request_url() == (
        "https://http-intake.logs.datadoghq.com/api/v2/logs?ddsource=cloudflare&ddtags=a:b"
    )
    assert d.param("ddsource") == "cloudflare"
    assert d.param("service") is None


def test_storage_endpoints() -> None:
    aws = parse_destination_conf("s3://b-1/x?region=ap-south-1")
    r2 = parse_destination_conf(
        f"r2://b-1?account-id={ACCOUNT}&access-key-id=a&secret-access-key=b"
    )
    assert isinstance(aws, S3Destination) and isinstance(r2, R2Destination)
    assert aws.endpoint_url() == "https://s3.ap-south-1.amazonaws.com"
    assert r2.endpoint_url() == f"https://{ACCOUNT}.r2.cloudflarestorage.com"
    assert r2.region == "auto"


@pytest.mark.parametrize(
    ("conf", "required", "filename"),
    [
        # logpush-ownership-challenge.mdx table; api-configuration.mdx filename example
        ("s3://burritobot/logs?region=us-east-1", True, "burritobot/logs/ownership-challenge.txt"),
        (
            "s3://burritobot/logs/{DATE}?region=us-east-1",
            True,
            "burritobot/logs/ownership-challenge.txt",
        ),
        ("s3://burritobot?region=us-east-1", True, "burritobot/ownership-challenge.txt"),
        (
            "s3://burritobot/a/date={DATE}/b?region=us-east-1&access-key-id=k&secret-access-key=s",
            False,
            "burritobot/a/ownership-challenge.txt",
        ),
        (
            f"r2://burritobot/nal/{{DATE}}?account-id={ACCOUNT}&access-key-id=k&secret-access-key=s",
            False,
            "burritobot/nal/ownership-challenge.txt",
        ),
        ("file:///var/log/nlp/{DATE}", False, "/var/log/nlp/ownership-challenge.txt"),
        ("https://h/x", False, None),
        (
            f"splunk://h/services/collector/raw?channel={GUID}&header_Authorization=Splunk%20t",
            False,
            None,
        ),
        ("datadog://h/v1/input?header_DD-API-KEY=k", False, None),
        (f"wss://h/instant-logs/ws/sessions/{SESSION}", False, None),
    ],
)
def test_ownership_challenge(conf: str, required: bool, filename: str | None) -> None:
    d = parse_destination_conf(conf)
    assert d.requires_ownership_challenge is required
    assert d.ownership_challenge_filename() == filename


REDACTIONS = [
    (
        "https://logs.example.com?header_Authorization=Basic%20dXNlcjpwYXNz&tags=a:b",
        "https://logs.example.com?tags=a:b&header_Authorization=Basic%20REDACTED",
    ),
    (
        "https://h/hooks/T0000/B1111/XXXXxxxx1234567890abcd?header_Content-Type=application/json"
        "&header_X-Api-Key=abc&code=fn&format=json",
        "https://h/hooks/T0000/B1111/REDACTED?code=REDACTED&format=json"
        "&header_Content-Type=application/json&header_X-Api-Key=REDACTED",
    ),
    (
        f"splunk://h:8088/services/collector/raw?channel={GUID}&header_Authorization=Splunk%20tok",
        f"splunk://h:8088/services/collector/raw?channel={GUID}&insecure-skip-verify=false"
        "&header_Authorization=Splunk%20REDACTED",
    ),
    (
        "s3://b-1?region=r&access-key-id=AKIA1&secret-access-key=sk",
        "s3://b-1?region=r&access-key-id=AKIA1&secret-access-key=REDACTED",
    ),
    (
        f"r2://b-1?account-id={ACCOUNT}&access-key-id=a&secret-access-key=sk",
        f"r2://b-1?account-id={ACCOUNT}&access-key-id=a&secret-access-key=REDACTED",
    ),
    (
        "datadog://h/v1/input?header_DD-API-KEY=k&service=s",
        "datadog://h/v1/input?service=s&header_DD-API-KEY=REDACTED",
    ),
    (f"wss://h/instant-logs/ws/sessions/{SESSION}", "wss://h/instant-logs/ws/sessions/REDACTED"),
    # Not parseable: redacted by rule.
    (
        "s3://b-1/logs?access-key-id=AKIA1&secret-access-key=sk",
        "s3://b-1/logs?access-key-id=AKIA1&secret-access-key=REDACTED",
    ),
    (
        "sumo://endpoint1.collection.us2.sumologic.com/receiver/v1/http/ZaVnC4dhaV3uTKlva2Iy==",
        "sumo://endpoint1.collection.us2.sumologic.com/REDACTED",
    ),
    (
        "https://user:pw@h/x?token=t&region=r&bare",
        "https://h/REDACTED?token=REDACTED&region=r&REDACTED",
    ),
    ("no scheme at all secret", "REDACTED"),
]


@pytest.mark.parametrize(("conf", "expected"), REDACTIONS)
def test_redaction(conf: str, expected: str) -> None:
    assert redact_destination_conf(conf) == expected


def test_str_and_repr_never_show_secrets() -> None:
    d = parse_destination_conf("s3://b-1?region=r&access-key-id=a&secret-access-key=TOPSECRET")
    assert "TOPSECRET" not in str(d)
    assert "TOPSECRET" not in repr(d)
    assert "TOPSECRET" not in f"{d}"
    assert (
        repr(d) == "S3Destination('s3://b-1?region=r&access-key-id=a&secret-access-key=REDACTED')"
    )
