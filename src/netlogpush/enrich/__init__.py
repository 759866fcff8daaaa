"""Enrichment: site (``Colo*``), ``Direction``, and ASN/country/geohash of both addresses.

The pipeline builds one :class:`Enricher` with :meth:`Enricher.from_config` and calls
:meth:`Enricher.enrich` once per batch of decoded packets. See docs/enrichment.md.
"""

from __future__ import annotations

from netlogpush.enrich.config import EnrichConfig, SiteConfig
from netlogpush.enrich.databases import open_database
from netlogpush.enrich.discover import find_ip_location_db
from netlogpush.enrich.enricher import ENRICHED_FIELDS, Enricher
from netlogpush.enrich.result import DatabaseError

__all__ = [
    "ENRICHED_FIELDS",
    "DatabaseError",
    "EnrichConfig",
    "Enricher",
    "SiteConfig",
    "find_ip_location_db",
    "open_database",
]
