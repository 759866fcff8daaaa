"""netlogpush: self-hosted Network Analytics Logs.

Packets in (pcap, live interfaces, sFlow), Cloudflare-format ``network_analytics_logs``
records out. See ``docs/architecture.md`` for the data path.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
