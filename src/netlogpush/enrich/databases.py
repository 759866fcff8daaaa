"""Open an IP database file of any supported kind, with errors that name the file."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

from netlogpush.enrich.mmdb import METADATA_MARKER, MmdbDatabase, is_mmdb
from netlogpush.enrich.rangefile import is_gzip, load_range_file
from netlogpush.enrich.result import DatabaseError, IpDatabase

log = logging.getLogger(__name__)

_SUPPORTED = (
    "expected a MaxMind DB (.mmdb: GeoLite2/GeoIP2, DB-IP, IPinfo, ip-location-db), an "
    "iptoasn.com TSV (ip2asn-v4.tsv, -u32, -v6, -combined; optionally .gz) or an "
    "ip-location-db CSV (asn-ipv4[-num].csv, asn-ipv6[-num].csv, *-country CSV); "
    "see docs/enrichment.md"
)


def open_database(path: Path | str) -> IpDatabase:
    """Open ``path``, detecting its kind from its content; raise :class:`DatabaseError` if unusable."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DatabaseError(f"{path}: no such file")
    if path.is_dir():
        raise DatabaseError(f"{path}: is a directory, not a database file")
    try:
        with path.open("rb") as f:
            empty = f.read(1) == b""
        mmdb = not empty and is_mmdb(path)
    except OSError as exc:
        raise DatabaseError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if empty:
        raise DatabaseError(f"{path}: file is empty; {_SUPPORTED}")
    db: IpDatabase | None
    if mmdb:
        db = MmdbDatabase.open(path)
    else:
        try:
            db = load_range_file(path)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise DatabaseError(f"{path}: cannot read: {exc}") from exc
    if db is None:
        if is_gzip(path) and _gzipped_mmdb(path):
            raise DatabaseError(f"{path}: gzip-compressed MaxMind DB; decompress it first")
        raise DatabaseError(f"{path}: unknown database format; {_SUPPORTED}")
    log.info("IP database %s: %s", path, db.description)
    return db


def _gzipped_mmdb(path: Path) -> bool:
    try:
        with gzip.open(path, "rb") as g:
            return METADATA_MARKER in g.read()
    except (OSError, EOFError):
        return False
