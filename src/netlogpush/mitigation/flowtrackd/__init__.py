"""flowtrackd: Advanced TCP Protection (stateful, unidirectional TCP tracking).

>>> system = FlowtrackdSystem(FlowtrackdConfig(prefixes=[{"prefix": "192.0.2.0/24"}]))
>>> decision = system.process(stage_input)

See docs/flowtrackd.md for the state machine, the reasons and the memory bound.
"""

from netlogpush.mitigation.flowtrackd.config import (
    AtpAllowlistEntry,
    AtpFilter,
    AtpPrefix,
    AtpRule,
    FlowtrackdConfig,
    ProtectionConfig,
    TrackerConfig,
)
from netlogpush.mitigation.flowtrackd.system import FlowtrackdSystem

__all__ = [
    "AtpAllowlistEntry",
    "AtpFilter",
    "AtpPrefix",
    "AtpRule",
    "FlowtrackdConfig",
    "FlowtrackdSystem",
    "ProtectionConfig",
    "TrackerConfig",
]
