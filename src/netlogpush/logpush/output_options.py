"""A Logpush job's ``output_options``: the record layout, and the encoder that writes it.

Semantics follow Cloudflare's "Log Output Options" page (cloudflare-docs
``src/content/docs/logs/logpush/logpush-job/log-output-options.mdx``; reference spec §2.5):

- a record is ``record_prefix`` + body + ``record_suffix``; the body is the ``field_names``
  joined by ``field_delimiter`` (ndjson: ``"Name":<json value>``; csv: the value alone), or
  ``record_template`` rendered when one is set (then ``field_delimiter`` is ignored);
- a batch is ``batch_prefix`` + the records joined by ``record_delimiter`` + ``batch_suffix``;
- ``output_type`` only picks the defaults (ndjson: ``{`` / ``}\\n`` / ``,``; csv: no prefix,
  ``\\n``, ``,``) and the quoting: JSON strings for ndjson, every string double-quoted for csv
  (the docs' csv example quotes every string and no integer);
- ``CVE-2021-44228`` replaces every ``${`` in the generated file with ``x{``.

Everything is column-wise: a value column is rendered once as a string array, runs of literal
text are merged, and ``pyarrow.compute.binary_join_element_wise`` builds all records in one
call. The default ndjson layout goes straight to ``dataset.formats.encode_ndjson``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, cast
from urllib.parse import parse_qsl

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from netlogpush.dataset.fields import FIELD_NAMES, FIELDS_BY_NAME, LEGACY_NAMES, canonical_name
from netlogpush.dataset.formats import encode_ndjson, string_data
from netlogpush.dataset.timestamps import TimestampFormat, format_datetime

OutputType = Literal["ndjson", "csv"]

#: Per output type, the values a ``None`` (unset or JSON null) layout key takes (docs: "Specifying
#: field_names and output_type will result in the remaining options being configured as below").
DEFAULTS: dict[str, dict[str, str]] = {
    "ndjson": {
        "batch_prefix": "",
        "batch_suffix": "",
        "record_prefix": "{",
        "record_suffix": "}\n",
        "record_delimiter": "",
        "field_delimiter": ",",
    },
    "csv": {
        "batch_prefix": "",
        "batch_suffix": "",
        "record_prefix": "",
        "record_suffix": "\n",
        "record_delimiter": "",
        "field_delimiter": ",",
    },
}


class OutputOptionsError(ValueError):
    """Invalid ``output_options`` (or ``logpull_options``); every problem names its key."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"output_options.{k}: {m}" for k, m in self.problems))


# --------------------------------------------------------------------------------------------
# record_template: the Go text/template subset the docs allow
# --------------------------------------------------------------------------------------------

TemplateToken = tuple[Literal["text", "field"], str]

_FIELD_ACTION = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)")
_GO_ESCAPE = re.compile(
    r"\\(?:([abfnrtv\\\"])|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{3}))"
)
_GO_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_SPACE = " \t\r\n"


def _go_string(literal: str, at: int) -> str:
    """Decode a Go string literal (interpreted ``"…"`` or raw ``` `…` ```).

    Hand-written: Python's escapes are a superset of Go's (``\\'``, 1-2 digit octal), and
    ``json.loads`` lacks ``\\x``, ``\\a``, ``\\v``, octal; a template Go rejects must fail here too.
    """
    if literal[0] == "`":
        return literal[1:-1]
    body, out, pos = literal[1:-1], [], 0
    for m in _GO_ESCAPE.finditer(body):
        if "\\" in body[pos : m.start()]:
            break
        out.append(body[pos : m.start()])
        simple, hex2, hex4, hex8, octal = m.groups()
        if simple:
            out.append(_GO_SIMPLE.get(simple, simple))
        elif hex2 or octal:
            # One byte, written as is: a lone byte above 0x7f would make invalid UTF-8 text.
            value = int(hex2, 16) if hex2 else int(octal, 8)
            if value > 0x7F:
                raise TemplateError(
                    f"byte escape above \\x7f is not valid UTF-8 text at offset {at}"
                )
            out.append(chr(value))
        else:
            out.append(chr(int(hex4 or hex8, 16)))
        pos = m.end()
    if "\\" in body[pos:]:
        raise TemplateError(f"invalid escape in string constant at offset {at}")
    out.append(body[pos:])
    return "".join(out)


class TemplateError(ValueError):
    """A ``record_template`` outside the documented subset."""


def _scan_action_end(src: str, i: int) -> int:
    """Index of the ``}}`` closing the action whose content starts at ``i`` (strings skipped)."""
    n = len(src)
    while i < n:
        c = src[i]
        if c == '"':
            i += 1
            while i < n and src[i] != '"':
                if src[i] == "\n":
                    raise TemplateError(f"newline in string constant at offset {i}")
                i += 2 if src[i] == "\\" else 1
            i += 1
        elif c == "`":
            close = src.find("`", i + 1)
            if close < 0:
                raise TemplateError(f"unterminated raw string at offset {i}")
            i = close + 1
        elif src.startswith("}}", i):
            return i
        else:
            i += 1
    raise TemplateError("unclosed action: '{{' without '}}'")


def parse_template(src: str) -> list[TemplateToken]:
    """Tokens of a ``record_template``: literal text and ``{{ .Field }}`` references.

    Allowed (docs): ``{{ .Field }}``, ``{{ "constant" }}`` (interpreted or raw Go string),
    text between actions, and ``{{/* comments */}}``; Go's ``{{-``/``-}}`` whitespace trimming
    is lexer syntax, not a function, so it is honoured. Anything else is an error.
    """
    tokens: list[TemplateToken] = []
    i, trim_next = 0, False
    while True:
        j = src.find("{{", i)
        text = src[i:] if j < 0 else src[i:j]
        if trim_next:
            text = text.lstrip(_SPACE)
        if j < 0:
            if text:
                tokens.append(("text", text))
            return _merge(tokens)
        start = j + 2
        trim_left = src.startswith("- ", start) or (
            src.startswith("-", start) and start + 1 < len(src) and src[start + 1] in _SPACE
        )
        if trim_left:
            text = text.rstrip(_SPACE)
            start += 2
        if text:
            tokens.append(("text", text))
        if src.startswith("/*", start):
            close = src.find("*/", start + 2)
            if close < 0:
                raise TemplateError(f"unclosed comment at offset {j}")
            rest = close + 2
            trim_next = src.startswith(" -}}", rest)
            end = rest + 3 if trim_next else rest
            if not src.startswith("}}", end):
                raise TemplateError(f"comment ends before '}}}}' at offset {j}")
            i = end + 2
            continue
        end = _scan_action_end(src, start)
        content = src[start:end]
        trim_next = len(content) >= 2 and content[-1] == "-" and content[-2] in _SPACE
        if trim_next:
            content = content[:-1]
        action = content.strip(_SPACE)
        m = _FIELD_ACTION.fullmatch(action)
        if m:
            tokens.append(("field", m.group(1)))
        elif (
            len(action) >= 2
            and action[0] == action[-1]
            and action[0] in '"`'
            and (action[0] == "`" or re.fullmatch(r'"(?:[^"\\\n]|\\.)*"', action))
        ):
            tokens.append(("text", _go_string(action, j)))
        else:
            raise TemplateError(
                f"unsupported action {{{{{content}}}}} at offset {j}: only {{{{ .Field }}}}, "
                '{{ "constant" }} and {{/* comments */}} are allowed'
            )
        i = end + 2


def _merge(tokens: list[TemplateToken]) -> list[TemplateToken]:
    out: list[TemplateToken] = []
    for kind, value in tokens:
        if kind == "text" and out and out[-1][0] == "text":
            out[-1] = ("text", out[-1][1] + value)
        elif not (kind == "text" and not value):
            out.append((kind, value))
    return out


# --------------------------------------------------------------------------------------------
# The options model
# --------------------------------------------------------------------------------------------


class OutputOptions(BaseModel):
    """``output_options`` as the API takes it. Unset/null layout keys mean "the type's default"."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    field_names: list[str] | None = None
    output_type: OutputType = "ndjson"
    batch_prefix: str | None = None
    batch_suffix: str | None = None
    record_prefix: str | None = None
    record_suffix: str | None = None
    record_template: str | None = None
    record_delimiter: str | None = None
    field_delimiter: str | None = None
    timestamp_format: TimestampFormat = "unixnano"
    sample_rate: float = Field(1.0, gt=0, le=1)
    #: OAS-2024 spells the key "CVE-2021-4428" (a typo); both spellings are accepted.
    cve_2021_44228: bool = Field(
        False,
        validation_alias=AliasChoices("CVE-2021-44228", "CVE-2021-4428", "cve_2021_44228"),
        serialization_alias="CVE-2021-44228",
    )
    #: ``http_requests`` only (TS-SDK); accepted and without effect on this dataset.
    merge_subrequests: bool | None = None
    #: Named only by the BigQuery page; accepted and without effect here.
    stringify_object: bool | None = None

    @field_validator(
        "output_type", "timestamp_format", "sample_rate", "cve_2021_44228", mode="before"
    )
    @classmethod
    def _null_is_default(cls, value: Any, info: Any) -> Any:
        if value is None:
            return {
                "output_type": "ndjson",
                "timestamp_format": "unixnano",
                "sample_rate": 1.0,
            }.get(info.field_name, False)
        return value

    @field_validator("field_names")
    @classmethod
    def _known_fields(cls, names: list[str] | None) -> list[str] | None:
        """Current or legacy names; legacy ones are written under their current name.

        ``ColoID`` (no current equivalent) is dropped, as the dataset reader drops it.
        """
        if names is None:
            return None
        if not names:
            raise ValueError("must name at least one field (there is no 'all fields' value)")
        out: list[str] = []
        for name in names:
            try:
                current = canonical_name(name)
            except KeyError:
                raise ValueError(f"unknown field {name!r} of network_analytics_logs") from None
            if current is None:
                continue
            if current in out:
                raise ValueError(f"field {name!r} is listed more than once")
            out.append(current)
        if not out:
            raise ValueError("names no field that still exists")
        return out

    @field_validator("record_template")
    @classmethod
    def _valid_template(cls, template: str | None) -> str | None:
        if template:
            for kind, name in parse_template(template):
                if kind == "field" and name not in FIELDS_BY_NAME and name not in LEGACY_NAMES:
                    raise ValueError(f"{{{{.{name}}}}} is not a field of network_analytics_logs")
        return template

    def resolved(self, key: str) -> str:
        """A layout key's value, the output type's default when unset."""
        value = getattr(self, key)
        return DEFAULTS[self.output_type][key] if value is None else cast(str, value)

    def names(self) -> list[str]:
        """The fields written, in order. Unset ``field_names`` means all 84 in dataset order
        (Cloudflare's ``fields/default`` list is undocumented; see docs/logpush-output.md)."""
        return list(self.field_names) if self.field_names is not None else list(FIELD_NAMES)

    def to_api(self) -> dict[str, Any]:
        """The JSON object the API returns for this job's ``output_options``."""
        return self.model_dump(by_alias=True, exclude_none=True)


def parse_output_options(data: Mapping[str, Any] | None) -> OutputOptions:
    """Validate an ``output_options`` object; errors name each offending key."""
    try:
        return OutputOptions.model_validate(dict(data or {}))
    except ValidationError as exc:
        raise OutputOptionsError([_problem(e) for e in exc.errors()]) from None


def _problem(err: Mapping[str, Any]) -> tuple[str, str]:
    loc = [str(p) for p in err.get("loc", ())]
    key = loc[0] if loc else "?"
    key += "".join(f"[{p}]" for p in loc[1:])
    msg = str(err.get("msg", "invalid"))
    if err.get("type") == "extra_forbidden":
        msg = "not an output_options key"
    return key, msg.removeprefix("Value error, ")


# --------------------------------------------------------------------------------------------
# logpull_options (deprecated) <-> output_options
# --------------------------------------------------------------------------------------------

#: Logpull query parameters Logpush sets itself for every push; a copied Logpull URL has them.
_LOGPULL_IGNORED = frozenset({"start", "end", "count"})


def from_logpull_options(value: str) -> OutputOptions:
    """``fields=A,B&sample=0.1&timestamps=rfc3339&CVE-2021-44228=true`` as ``output_options``.

    The mapping is the docs' migration table ("How to migrate"); the string may be a full
    Logpull URL ("copy the url (full url or just the query string)", TS-SDK).
    """
    query = value.split("?", 1)[1] if "?" in value else value
    data: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for key, raw in parse_qsl(query, keep_blank_values=True):
        if key == "fields":
            data["field_names"] = [f for f in raw.split(",") if f]
        elif key == "sample":
            try:
                data["sample_rate"] = float(raw)
            except ValueError:
                problems.append(("sample_rate", f"logpull sample={raw!r} is not a number"))
        elif key == "timestamps":
            data["timestamp_format"] = raw
        elif key == "CVE-2021-44228":
            if raw.lower() not in ("true", "false"):
                problems.append(("CVE-2021-44228", f"logpull value {raw!r} is not true or false"))
            data["CVE-2021-44228"] = raw.lower() == "true"
        elif key not in _LOGPULL_IGNORED:
            problems.append((key, "not a logpull_options parameter"))
    if problems:
        raise OutputOptionsError(problems)
    return parse_output_options(data)


def to_logpull_options(options: OutputOptions) -> str:
    """The ``logpull_options`` string for options it can express (fields, sample, timestamps, CVE)."""
    layout = ("batch_prefix", "batch_suffix", "record_prefix", "record_suffix", "record_delimiter")
    extra = [k for k in (*layout, "field_delimiter", "record_template") if getattr(options, k)]
    if options.output_type != "ndjson":
        extra.insert(0, "output_type")
    if extra:
        raise OutputOptionsError([(k, "cannot be expressed in logpull_options") for k in extra])
    parts = []
    if options.field_names is not None:
        parts.append("fields=" + ",".join(options.field_names))
    if options.sample_rate != 1:
        parts.append(f"sample={options.sample_rate:g}")
    parts.append(f"timestamps={options.timestamp_format}")
    if options.cve_2021_44228:
        parts.append("CVE-2021-44228=true")
    return "&".join(parts)


def job_output_options(
    output_options: Mapping[str, Any] | None, logpull_options: str | None
) -> OutputOptions:
    """A job's effective options: "When including [output_options], logpull_options will be
    ignored" (OAS-2024)."""
    if output_options is not None:
        return parse_output_options(output_options)
    if logpull_options:
        return from_logpull_options(logpull_options)
    return OutputOptions.model_validate({})


# --------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------

Piece: TypeAlias = "str | pa.Array"  # literal text, or one rendered value per record
_JSON_ESCAPE = r'[\x00-\x1f"\\]'


def _constant(col: pa.Array) -> Any:
    """The value if every row has the same one, else ``None`` (literal text joins faster)."""
    if len(col) and pc.all(pc.equal(col, col[0])).as_py():
        return col[0].as_py()
    return None


def _value(table: pa.Table, name: str, options: OutputOptions) -> list[Piece]:
    """One field's values as text in the output type's quoting, as few pieces as possible."""
    col = table.column(name).combine_chunks()
    if name == "Datetime":
        col = format_datetime(col, options.timestamp_format)
    if not pa.types.is_string(col.type):
        const = _constant(col)
        return [str(const)] if const is not None else [pc.cast(col, pa.string())]
    const = _constant(col)
    if options.output_type == "csv":
        if const is not None:
            return ['"' + str(const).replace('"', '""') + '"']
        if pc.any(pc.match_substring(col, '"')).as_py():
            col = pc.replace_substring(col, '"', '""')
        return ['"', col, '"']
    if const is not None:
        return [orjson.dumps(const).decode()]
    needs = pc.match_substring_regex(col, _JSON_ESCAPE)
    if not pc.any(needs).as_py():
        return ['"', col, '"']  # the quotes merge into the neighbouring literal text
    # Only rows holding a quote, backslash or control character go through orjson.
    rows = np.flatnonzero(np.asarray(needs))
    quoted = pc.binary_join_element_wise('"', col, '"', "")
    escaped = pa.array([orjson.dumps(v).decode() for v in col.take(pa.array(rows)).to_pylist()])
    return [pc.replace_with_mask(quoted, needs, escaped)]


@dataclass(frozen=True, slots=True)
class Encoder:
    """A compiled layout: the options, the field list and the template tokens."""

    options: OutputOptions
    names: tuple[str, ...]
    template: tuple[TemplateToken, ...] | None

    @property
    def is_plain_ndjson(self) -> bool:
        """Exactly ``dataset.formats.encode_ndjson``'s layout (one JSON object per line)."""
        o = self.options
        return (
            o.output_type == "ndjson"
            and self.template is None
            and o.resolved("record_prefix") == "{"
            and o.resolved("record_suffix") == "}\n"
            and o.resolved("field_delimiter") == ","
            and o.resolved("record_delimiter") == ""
        )

    def _body(self, table: pa.Table) -> list[Piece]:
        o = self.options
        if self.template is not None:
            out: list[Piece] = []
            for kind, value in self.template:
                if kind == "text":
                    out.append(value)
                    continue
                name = canonical_name(value)
                # docs: fields used in the template but not in field_names "end up as null"
                out += _value(table, name, o) if name in self.names and name else ["null"]
            return out
        delim = o.resolved("field_delimiter")
        out = []
        for i, name in enumerate(self.names):
            if i:
                out.append(delim)
            if o.output_type == "ndjson":
                out.append(orjson.dumps(name).decode() + ":")
            out += _value(table, name, o)
        return out

    def encode_records(self, table: pa.Table) -> pa.Array:
        """One string per record: prefix + body + suffix (no delimiters, no batch affixes)."""
        o = self.options
        pieces = [o.resolved("record_prefix"), *self._body(table), o.resolved("record_suffix")]
        merged: list[Piece] = []
        for p in pieces:
            if isinstance(p, str) and merged and isinstance(merged[-1], str):
                merged[-1] += p
            elif not (isinstance(p, str) and not p):
                merged.append(p)
        if all(isinstance(p, str) for p in merged):
            return pa.repeat(pa.scalar("".join(cast(list[str], merged))), table.num_rows)
        if len(merged) == 1:
            return cast(pa.Array, merged[0])
        return pc.binary_join_element_wise(*merged, "")

    def assemble(self, chunks: Sequence[pa.Array]) -> bytes:
        """A batch: ``batch_prefix`` + records joined by ``record_delimiter`` + ``batch_suffix``."""
        o = self.options
        delim = o.resolved("record_delimiter").encode()
        if delim:
            body = delim.join(_delimited(chunks, delim))
        else:
            body = b"".join(string_data(c) for c in chunks if len(c))
        return self.finish(body)

    def finish(self, body: bytes | memoryview) -> bytes:
        o = self.options
        data = (
            o.resolved("batch_prefix").encode() + bytes(body) + o.resolved("batch_suffix").encode()
        )
        if o.cve_2021_44228:
            # docs: "all occurrences of `${` in the generated files … replaced with `x{`"
            data = data.replace(b"${", b"x{")
        return data

    def encode(self, table: pa.Table) -> bytes:
        """The batch for ``table`` exactly as Cloudflare lays it out (no sampling here)."""
        if self.is_plain_ndjson and table.num_rows:
            return self.finish(encode_ndjson(table, self.names, self.options.timestamp_format))
        return self.assemble([self.encode_records(table)])


def _delimited(chunks: Sequence[pa.Array], delim: bytes) -> list[memoryview]:
    """Each chunk's records joined by ``delim`` (the caller joins chunks with it too)."""
    out = []
    d = delim.decode()
    for c in chunks:
        if not len(c):
            continue
        joined = pc.binary_join_element_wise(c, d, "")  # every record + delimiter
        out.append(string_data(joined)[: -len(delim)])
    return out


def compile_options(options: OutputOptions) -> Encoder:
    template = options.record_template
    return Encoder(
        options=options,
        names=tuple(options.names()),
        template=tuple(parse_template(template)) if template else None,
    )


class Sampler:
    """``sample_rate`` as a reproducible keep-mask: the same seed and the same sequence of
    batch sizes keep the same records. Sampling is applied after filtering (docs)."""

    def __init__(self, rate: float, seed: int = 0) -> None:
        self.rate = rate
        self._rng = np.random.Generator(np.random.PCG64(seed))

    def mask(self, n: int) -> np.ndarray[Any, np.dtype[np.bool_]] | None:
        """``None`` when every record is kept (rate 1 draws nothing)."""
        if self.rate >= 1:
            return None
        return self._rng.random(n) < self.rate


def encode_batch(
    table: pa.Table, options: OutputOptions, *, where: Any = None, seed: int = 0
) -> bytes:
    """Filter (a compiled ``logpush.filter.Filter``), sample, then lay out one batch.

    For a stream of batches keep one ``Encoder`` and one ``Sampler`` instead.
    """
    if where is not None:
        table = table.filter(where.mask(table))
    keep = Sampler(options.sample_rate, seed).mask(table.num_rows)
    if keep is not None:
        table = table.filter(pa.array(keep))
    return compile_options(options).encode(table)
