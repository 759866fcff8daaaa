"""Settings of the three systems: which run (a service profile), how, and how they sample.

Cloudflare applies the systems per service, as the seed article's table shows: Magic Transit
gets all three, Magic WAN the network firewall, Spectrum the DDoS managed ruleset. Those are
the profiles; ``systems`` lists the systems explicitly instead, and each system's own
``enabled: false`` switches it off.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from netlogpush.mitigation.chain import Mode
from netlogpush.mitigation.dosd.config import DosdConfig
from netlogpush.mitigation.firewall.config import FirewallConfig
from netlogpush.mitigation.flowtrackd.config import FlowtrackdConfig
from netlogpush.mitigation.sampling import SamplingPolicy
from netlogpush.mitigation.stage import SYSTEM_ORDER, MitigationSystem

Profile = Literal["magic_transit", "magic_wan", "spectrum"]
PROFILES: dict[str, tuple[MitigationSystem, ...]] = {
    "magic_transit": ("dosd", "flowtrackd", "magic-firewall"),
    "magic_wan": ("magic-firewall",),
    "spectrum": ("dosd",),
}


class SystemSampling(BaseModel):
    """Sampling per system; an unset system uses its documented dynamic range."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, populate_by_name=True)

    dosd: SamplingPolicy | None = None
    """dosd's samples (documented: dynamic, 1/100 to 1/10,000)."""

    flowtrackd: SamplingPolicy | None = None
    """flowtrackd's samples (documented: 1/1,000 or 1/10,000)."""

    magic_firewall: SamplingPolicy | None = Field(default=None, alias="magic-firewall")
    """magic-firewall's samples (documented: dynamic, 1/100 to 1/1,000,000)."""

    def policy(self, system: str) -> SamplingPolicy:
        configured: SamplingPolicy | None = getattr(self, system.replace("-", "_"))
        return configured or SamplingPolicy.documented(system)


class MitigationConfig(BaseModel):
    """The mitigation systems: profile, deployment mode, each system's settings."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    profile: Profile = "magic_transit"
    """magic_transit (dosd, flowtrackd, magic-firewall), magic_wan (magic-firewall) or spectrum (dosd)."""

    systems: list[MitigationSystem] | None = None
    """The systems to run, instead of the profile's (always run in Cloudflare's order)."""

    mode: Mode = "passive"
    """inline: verdicts are enforced (Outcome = Verdict, except log-only rules); passive (a
    mirror port, a pcap, sFlow): nothing is dropped, Outcome is pass, Verdict says what would
    have happened."""

    dosd: DosdConfig = Field(default_factory=DosdConfig)
    """The DDoS managed ruleset and its ddos_l4 overrides."""

    flowtrackd: FlowtrackdConfig = Field(default_factory=FlowtrackdConfig)
    """Advanced TCP Protection."""

    firewall: FirewallConfig = Field(default_factory=FirewallConfig)
    """The network firewall's rules and lists."""

    sampling: SystemSampling = Field(default_factory=SystemSampling)
    """Per-system sampling, when the top-level ``sampling.interval`` does not fix it."""

    def enabled_systems(self) -> tuple[MitigationSystem, ...]:
        chosen = set(self.systems if self.systems is not None else PROFILES[self.profile])
        switched_off = {
            "dosd": self.dosd.enabled is False,
            "flowtrackd": self.flowtrackd.enabled is False,
            "magic-firewall": self.firewall.enabled is False,
        }
        return tuple(s for s in SYSTEM_ORDER if s in chosen and not switched_off[s])
