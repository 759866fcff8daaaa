"""Settings: a YAML file, then ``NETLOGPUSH_*`` environment variables over it.

The file holds the site, the customer prefixes, the IP databases and the sampling. Any key
can be overridden from the environment with ``__`` between nested keys, for example
``NETLOGPUSH_SAMPLING__INTERVAL=100`` or ``NETLOGPUSH_SITE__NAME=ams01``; a value written as
a YAML list or mapping is one, so ``NETLOGPUSH_CUSTOMER_PREFIXES='[192.0.2.0/24]'`` gives a
list, while any other value is text for the setting to convert (``NETLOGPUSH_SITE__COUNTRY=NO``
is Norway, not false).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from netlogpush.enrich.config import EnrichConfig
from netlogpush.mitigation.config import MitigationConfig
from netlogpush.mitigation.flowtrackd.config import AtpPrefix

ENV_PREFIX = "NETLOGPUSH_"


class SamplingConfig(BaseModel):
    """How many packets each record stands for."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    interval: int | None = Field(default=None, ge=1, le=1_000_000)
    """Every system keeps 1 packet in ``interval`` (``SampleInterval``); 1 keeps every packet.
    Unset: each system follows ``mitigation.sampling`` (dynamic by default)."""

    seed: int | None = None
    """Seed for the random choice, so that a run can be repeated exactly."""


class SourcesConfig(BaseModel):
    """Where ``netlogpush serve`` reads packets from (flags on the command line add to these)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    pcap: list[Path] = Field(default_factory=list)
    """Capture files replayed into the stream once, at start."""

    replay: Literal["as-captured", "live"] = "as-captured"
    """How ``pcap`` files are replayed: ``as-captured`` keeps their timestamps and reads them
    as fast as possible; ``live`` shifts them to start now and releases packets at their
    time, as if they arrived on an interface (the dashboard then shows them as recent)."""

    sflow_port: int | None = Field(default=None, ge=1, le=65535)
    """Receive sFlow v5 on this UDP port (6343 is the standard one)."""

    interface: str | None = None
    """Capture live on this interface (needs root)."""

    filter: str | None = None
    """BPF filter for ``interface``, as tcpdump takes it."""


class AnalyticsSettings(BaseModel):
    """The embedded analytics store behind the dashboard (docs/analytics.md)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    enabled: bool = True
    """Keep the store and serve the dashboard at ``/dashboard``."""

    from_stream: bool = True
    """Feed the store from this service's own record stream. Turn it off when the records
    reach the store another way (a Logpush job to the built-in receiver), or they count twice."""

    raw_days: float = Field(default=7.0, gt=0)
    """Days every sample is kept; older ones are rolled up per minute."""

    minute_days: float = Field(default=30.0, gt=0)
    """Days the per-minute roll-up is kept; older minutes are rolled up per hour."""

    hour_days: float = Field(default=365.0, gt=0)
    """Days the per-hour roll-up is kept."""


class ReceiverSettings(BaseModel):
    """The built-in log receiver (docs/receiver.md): Splunk HEC and HTTP Logpush endpoints."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    enabled: bool = True
    """Accept logs at ``/services/collector`` (HEC) and ``/logpush`` into the analytics store."""


class Settings(EnrichConfig):
    """Everything a run of netlogpush is configured with."""

    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    """Packet sampling."""

    mitigation: MitigationConfig = Field(default_factory=MitigationConfig)
    """The mitigation systems (dosd, flowtrackd, magic-firewall): profile, mode, rules."""

    sources: SourcesConfig = Field(default_factory=SourcesConfig)
    """The packet sources of ``netlogpush serve``."""

    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    """The analytics store and the dashboard."""

    receiver: ReceiverSettings = Field(default_factory=ReceiverSettings)
    """The built-in log receiver."""

    def effective_mitigation(self) -> MitigationConfig:
        """The mitigation settings the systems run with.

        flowtrackd without protected prefixes of its own protects ``customer_prefixes``, as
        Cloudflare's protects a Magic Transit customer's prefixes (docs/mitigation.md).
        """
        m = self.mitigation
        if m.flowtrackd.prefixes or not self.customer_prefixes:
            return m
        prefixes = [AtpPrefix(prefix=p) for p in self.customer_prefixes]
        flowtrackd = m.flowtrackd.model_copy(update={"prefixes": prefixes})
        return m.model_copy(update={"flowtrackd": flowtrackd})

    def sampling_configured(self) -> bool:
        """Whether the settings say how to sample (a fixed interval, or per-system policies)."""
        per_system = self.mitigation.sampling.model_dump(exclude_none=True)
        return self.sampling.interval is not None or bool(per_system)


class SettingsError(ValueError):
    """A settings file or variable that cannot be used; the message says which and why."""


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "CONFIG":
            continue
        path = key[len(ENV_PREFIX) :].lower().split("__")
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise SettingsError(f"{key}: not a valid YAML value: {exc}") from None
        # Only lists, mappings and null are taken from YAML; any other value stays the text it
        # was and the setting's type converts it. Otherwise YAML's scalar rules would turn the
        # country code NO (Norway) into false and the site name 0123 into the number 123.
        node[path[-1]] = value if value is None or isinstance(value, list | dict) else raw
    return tree


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _describe(exc: ValidationError, source: str) -> str:
    lines = [f"invalid settings ({source}):"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (or ``$NETLOGPUSH_CONFIG``, or nothing), apply the environment, validate."""
    environ = os.environ if environ is None else environ
    if path is None and environ.get(ENV_PREFIX + "CONFIG"):
        path = Path(environ[ENV_PREFIX + "CONFIG"])
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            loaded = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise SettingsError(f"cannot read settings file {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise SettingsError(f"settings file {path} is not valid YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise SettingsError(f"settings file {path} must hold a mapping at the top level")
        data = loaded or {}
        # Relative paths are relative to the settings file, not the working directory.
        if isinstance(data.get("databases"), list):
            data["databases"] = [path.parent / str(p) for p in data["databases"]]
        sources = data.get("sources")
        if isinstance(sources, dict) and isinstance(sources.get("pcap"), list):
            data["sources"] = {**sources, "pcap": [path.parent / str(p) for p in sources["pcap"]]}
    overrides = _env_overrides(environ)
    if overrides:
        source += " + environment"
    try:
        return Settings.model_validate(_merge(data, overrides))
    except ValidationError as exc:
        raise SettingsError(_describe(exc, source)) from None
