"""The embedded analytics store: DuckDB, fed with record tables, idempotent, with roll-ups.

Three tiers hold disjoint time ranges, so a query reads their ``UNION ALL`` and never counts a
sample twice (``queries.py``):

* ``records``: every column of the dataset, one row per sample, plus ``_id`` (the sample's
  key) and ``_hour`` (hour bucket, the partition column used by retention);
* ``rollup_minute`` / ``rollup_hour``: packets, bytes and samples per time bucket and per
  ``ROLLUP_DIMENSIONS`` value combination, for data older than the raw (minute) retention.

Beside the raw tier, and over exactly its rows, ingest keeps **aggregates** (``AGGREGATES``):
sums per minute or per hour over a few dimensions, written in the same transaction as the
samples. The dashboard's default view reads them instead of millions of samples; samples are
read only for the partial minutes (hours) at the edges of a time range and for per-address
questions (``queries.py`` picks the source, docs/analytics.md).

Ingest is idempotent, two ways (docs/analytics.md):

* ``ingest(table)``: a sample's key is an md5 of all its fields (or the caller's ``ids``). New
  samples are those whose key is not yet stored *in the batch's own time range* (identical
  samples have identical times), so no index is needed: zone maps on ``Datetime`` narrow the
  check to a few row groups. For the receiver, which gets HEC redeliveries.
* ``ingest_stream(table, seqs, source)``: the record stream's sequence numbers. The store
  keeps the last sequence number it took from ``source`` in the same transaction as the
  rows, so a redelivery after a crash is recognised by its numbers alone: no key to compute,
  no lookup. For ``StreamFeed``.

Either way one transaction per call: a process killed mid-ingest leaves the batch absent and a
re-send counts once. Samples older than the compaction watermark are refused, because their
raw tier is gone and a duplicate could no longer be recognised there.

DuckDB has no physical partitions in a table; ``_hour`` plus inserting in time order gives
row groups with tight ``Datetime`` min/max (zone maps), which is what prunes a time range.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from netlogpush.dataset.records import SCHEMA

NS_PER_S = 1_000_000_000
MINUTE_NS = 60 * NS_PER_S
HOUR_NS = 3600 * NS_PER_S
DAY_NS = 24 * HOUR_NS
# DuckDB's row group. Inserts this large are written as whole compressed row groups; smaller
# ones go into a partial row group whose compression, each time it fills, cost up to 1.5 s
# here (measured, DuckDB 2.0): batch ingest in multiples of this (docs/analytics.md).
ROW_GROUP_ROWS = 122_880
SCHEMA_VERSION = 2  # 1: records keyed by a PRIMARY KEY index; 2: no index, aggregates

# Dimensions kept in the roll-ups: those the dashboard splits and filters by, without the
# per-address ones (IPs, source ports) whose cardinality would make a roll-up as large as the
# raw samples. Those read as "" / 0 for rolled-up time ranges (docs/analytics.md).
ROLLUP_DIMENSIONS: tuple[str, ...] = (
    "MitigationSystem",
    "Verdict",
    "Outcome",
    "Direction",
    "AttackID",
    "AttackVector",
    "RuleID",
    "RuleName",
    "MitigationReason",
    "ProtocolState",
    "IPProtocol",
    "IPProtocolName",
    "TCPFlags",
    "TCPFlagsString",
    "SourceASN",
    "SourceCountry",
    "DestinationPort",
    "IPDestinationSubnet",
    "ColoCode",
    "ColoCountry",
    "IPTotalLengthBuckets",
)
# Columns that only the raw tier has; the roll-up tiers present them as empty values.
RAW_ONLY_DIMENSIONS: tuple[str, ...] = (
    "IPSourceAddress",
    "IPSourceSubnet",
    "IPDestinationAddress",
    "SourcePort",
    "ColoName",
)
# What the counting rule (queries.py) needs: every aggregate keeps these.
COUNTING_COLUMNS: tuple[str, ...] = ("MitigationSystem", "Verdict", "Outcome")


# Per attack, its top sources (with their packets), computed by compact() once the attack has
# been quiet this long:
# exact top sources need every (attack, source) pair, which for a spoofed flood is every
# sample. queries.sql_attacks uses a row only when it covers exactly the samples of the view.
ATTACK_QUIET_NS = 5 * 60 * NS_PER_S
ATTACK_TOP_SOURCES = 10
ATTACK_ROWS = "MitigationSystem = 'dosd' AND AttackID <> ''"
# Dropped samples with a source address, under either counting rule: the summary's top source.
DROPPED_SOURCE_ROWS = "IPSourceAddress <> '' AND (Outcome = 'drop' OR Verdict = 'drop')"


@dataclass(frozen=True)
class Aggregate:
    """Sums kept at ingest over the raw tier's samples: packets, bytes and samples per
    ``step_ns`` bucket of ``Datetime`` and per value combination of ``dims``, over the samples
    ``rows`` selects ("" = all). ``spans`` adds the first and last ``Datetime`` of each row."""

    table: str
    step_ns: int
    dims: tuple[str, ...]
    rows: str = ""
    spans: bool = False


# Chosen by measurement (docs/analytics.md): 10M samples over 24 h give ~141k rows/day in
# agg_minute (low-cardinality dimensions only, so a minute stays small), and per hour 22k
# (country), 0.6M (ASN) and 1.8M (destination port) rows in the per-dimension tables. A
# per-minute table with ASN or port would be as large as the samples.
_PER_HOUR_ONLY = ("SourceASN", "SourceCountry", "DestinationPort", "IPDestinationSubnet")
AGGREGATES: tuple[Aggregate, ...] = (
    # The roll-up's dimensions without the four with thousands of values, so a minute stays small.
    Aggregate(
        "agg_minute",
        MINUTE_NS,
        tuple(d for d in ROLLUP_DIMENSIONS if d not in _PER_HOUR_ONLY),
        spans=True,
    ),
    # dosd's attack samples with their target: the attack list without reading samples.
    Aggregate(
        "agg_attack_minute",
        MINUTE_NS,
        (*COUNTING_COLUMNS, "AttackID", "AttackVector", "IPDestinationAddress"),
        rows=ATTACK_ROWS,
        spans=True,
    ),
    Aggregate("agg_hour_source_asn", HOUR_NS, (*COUNTING_COLUMNS, "SourceASN")),
    Aggregate("agg_hour_source_country", HOUR_NS, (*COUNTING_COLUMNS, "SourceCountry")),
    Aggregate("agg_hour_destination_port", HOUR_NS, (*COUNTING_COLUMNS, "DestinationPort")),
    # The summary's top source: a spoofed flood has about as many sources as samples, but only
    # dropped samples count and an hour merges each source's rows (1.2M rows a day at 10M).
    Aggregate(
        "agg_hour_dropped_source",
        HOUR_NS,
        (*COUNTING_COLUMNS, "IPSourceAddress"),
        rows=DROPPED_SOURCE_ROWS,
    ),
)

_INT_FIELDS = frozenset(f.name for f in SCHEMA if f.type == pa.int64())


def is_int_field(name: str) -> bool:
    return name in _INT_FIELDS


def _sql_type(field: pa.Field) -> str:
    return "BIGINT" if field.type == pa.int64() else "VARCHAR"


@dataclass(frozen=True)
class Retention:
    """How long each tier keeps data, in nanoseconds of record time."""

    raw_ns: int = 7 * DAY_NS
    minute_ns: int = 30 * DAY_NS
    hour_ns: int = 365 * DAY_NS

    def __post_init__(self) -> None:
        if not 0 < self.raw_ns <= self.minute_ns <= self.hour_ns:
            raise ValueError("retention must satisfy 0 < raw <= minute <= hour")


@dataclass(frozen=True)
class IngestResult:
    received: int
    inserted: int
    duplicates: int
    late: int  # older than the compaction watermark: refused


@dataclass(frozen=True)
class CompactResult:
    raw_rolled: int  # raw samples folded into minute buckets
    minute_rolled: int  # minute rows folded into hour buckets
    hour_deleted: int


# The key of a sample: md5 over every field, in SCHEMA order, as text. md5 rather than
# DuckDB's hash(): it is documented and stable across versions (keys are stored on disk) and
# 128 bits make a collision among billions of samples negligible.
_KEY_EXPR = "md5_number(concat_ws(chr(31), {}))".format(
    ", ".join(f'CAST("{f.name}" AS VARCHAR)' for f in SCHEMA)
)
_COLUMNS = ", ".join(f'"{f.name}"' for f in SCHEMA)
_DIMS = ", ".join(f'"{d}"' for d in ROLLUP_DIMENSIONS)
_MEASURES = "sum(SampleInterval), sum(CAST(IPTotalLength AS HUGEINT) * SampleInterval), count(*)"


def _conform(table: pa.Table) -> pa.Table:
    return table if table.schema == SCHEMA else table.select(SCHEMA.names).cast(SCHEMA)


def _min_max(values: pa.Array | pa.ChunkedArray) -> tuple[int, int]:
    mm = pc.min_max(values)
    return int(mm["min"].as_py()), int(mm["max"].as_py())


def _sorted(table: pa.Table) -> bool:
    times = table.column("Datetime").to_numpy()
    return bool(np.all(times[1:] >= times[:-1]))


def _agg_insert(agg: Aggregate, rel: str, where: str = "") -> str:
    """SQL adding ``rel``'s samples (``where`` narrows them) to ``agg``."""
    conds = " AND ".join(c for c in (agg.rows, where) if c)
    spans = ", min(Datetime), max(Datetime)" if agg.spans else ""
    dims = ", ".join(f'"{d}"' for d in agg.dims)
    return (
        f"INSERT INTO {agg.table} SELECT Datetime - (Datetime % {agg.step_ns}) AS b, {dims}, "
        f"{_MEASURES}{spans} FROM {rel}{f' WHERE {conds}' if conds else ''} GROUP BY ALL"
    )


class AnalyticsStore:
    """A DuckDB database file (or in memory when ``path`` is None) holding the three tiers.

    Thread-safe: ``ingest``/``ingest_stream``/``compact`` are serialised by a lock and write
    through their own cursor; readers take ``con.cursor()`` (``Queries``) and see committed
    data only.
    """

    def __init__(self, path: str | Path | None = None, retention: Retention | None = None) -> None:
        self.retention = retention or Retention()
        self.con = duckdb.connect(":memory:" if path is None else str(path))
        self._w = self.con.cursor()  # the writer's own connection to the database
        self._lock = threading.RLock()
        try:
            self._create()
        except BaseException:
            self.close()
            raise

    def read(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a query on a cursor of its own: readers answer from several threads while the
        feed writes, and one DuckDB connection must not be used by two threads at once."""
        cursor = self.con.cursor()
        try:
            return cursor.execute(sql).fetchall()
        finally:
            cursor.close()

    def close(self) -> None:
        self._w.close()
        self.con.close()

    def __enter__(self) -> AnalyticsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create(self) -> None:
        existed = bool(
            self._q("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'records'")[0][0]
        )
        cols = ", ".join(f'"{f.name}" {_sql_type(f)} NOT NULL' for f in SCHEMA)
        # No PRIMARY KEY: its index (ART) is held in memory whole and cost more than the rest
        # of ingest at 10M+ rows; idempotency is kept without it (module docstring).
        self._q(
            "CREATE TABLE IF NOT EXISTS records "
            f"(_id UHUGEINT NOT NULL, _hour BIGINT NOT NULL, {cols})"
        )
        dims = ", ".join(f'"{d}" {_sql_type(SCHEMA.field(d))} NOT NULL' for d in ROLLUP_DIMENSIONS)
        for tier in ("rollup_minute", "rollup_hour"):
            # No key: rows are additive, a bucket split over two compactions sums correctly.
            self._q(
                f"CREATE TABLE IF NOT EXISTS {tier} (Datetime BIGINT NOT NULL, {dims}, "
                "packets HUGEINT NOT NULL, bytes HUGEINT NOT NULL, samples BIGINT NOT NULL)"
            )
        for agg in AGGREGATES:
            adims = ", ".join(f'"{d}" {_sql_type(SCHEMA.field(d))} NOT NULL' for d in agg.dims)
            spans = ", first_ns BIGINT NOT NULL, last_ns BIGINT NOT NULL" if agg.spans else ""
            self._q(
                f"CREATE TABLE IF NOT EXISTS {agg.table} (Datetime BIGINT NOT NULL, {adims}, "
                f"packets HUGEINT NOT NULL, bytes HUGEINT NOT NULL, samples BIGINT NOT NULL{spans})"
            )
        self._q(
            "CREATE TABLE IF NOT EXISTS attack_sources (AttackID VARCHAR PRIMARY KEY, "
            "samples BIGINT NOT NULL, first_ns BIGINT NOT NULL, last_ns BIGINT NOT NULL, "
            "sources VARCHAR[] NOT NULL, packets HUGEINT[] NOT NULL, complete BOOLEAN NOT NULL)"
        )
        self._q("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value BIGINT)")
        if not existed:
            self._set_meta("schema_version", SCHEMA_VERSION)
        elif (version := self._meta("schema_version")) != SCHEMA_VERSION:
            raise RuntimeError(
                f"analytics store written by schema version {version or 1}, this is version "
                f"{SCHEMA_VERSION}: move the file away and let it be rebuilt from the stream"
            )

    def _q(self, sql: str, params: list[object] | None = None) -> list[tuple[Any, ...]]:
        # Always drain: DuckDB 2 refuses further work on a connection whose last result was
        # not fetched to the end (even a DML statement's row count).
        return self._w.execute(sql, params).fetchall()

    def _meta(self, key: str) -> int:
        rows = self._q("SELECT value FROM meta WHERE key = ?", [key])
        return int(rows[0][0]) if rows else 0

    def _set_meta(self, key: str, value: int) -> None:
        self._q("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    @property
    def watermark_ns(self) -> int:
        """Samples before this time were rolled up; ingest refuses them."""
        with self._lock:
            return self._meta("raw_compacted_until")

    def position(self, source: str) -> int:
        """The last stream sequence number taken from ``source`` by ``ingest_stream`` (0: none)."""
        with self._lock:
            return self._meta(f"stream_position:{source}")

    def reset_stream(self, source: str) -> None:
        """``source`` is a new stream whose numbers start again: position 0, and a new epoch
        so that its samples' ``_id``s (epoch × 2^64 + sequence number) differ from the old."""
        with self._transaction():
            self._set_meta(f"stream_epoch:{source}", self._meta(f"stream_epoch:{source}") + 1)
            self._set_meta(f"stream_position:{source}", 0)

    @contextmanager
    def _transaction(self, incoming: pa.Table | None = None) -> Iterator[None]:
        """The write lock, one transaction, and ``incoming`` visible as ``_incoming``."""
        with self._lock:
            if incoming is not None:
                self._w.register("_incoming", incoming)
            try:
                self._q("BEGIN TRANSACTION")
                try:
                    yield
                    self._q("COMMIT")
                except BaseException:
                    self._q("ROLLBACK")
                    raise
            finally:
                if incoming is not None:
                    self._w.unregister("_incoming")

    def _store(self, rel: str, in_order: bool) -> int:
        """Insert ``rel``'s samples (``_id`` + SCHEMA columns) into the raw tier and every
        aggregate; the number of samples stored."""
        # Time order keeps row groups' Datetime ranges tight; a batch off the stream or the
        # pipeline usually is in order already and is not sorted again.
        order = "" if in_order else " ORDER BY Datetime"
        written = self._q(
            f"INSERT INTO records SELECT _id, Datetime - (Datetime % {HOUR_NS}), {_COLUMNS} "
            f"FROM {rel}{order}"
        )
        for agg in AGGREGATES:
            self._q(_agg_insert(agg, rel))
        return int(written[0][0])

    def ingest(self, table: pa.Table, ids: Any = None) -> IngestResult:
        """Add a record table (``records.SCHEMA``). ``ids``: optional per-row keys from the
        caller (unsigned ints); by default a sample's key is the hash of all its fields, so an
        identical sample is the same sample."""
        table = _conform(table)
        received = table.num_rows
        if ids is not None:
            id_arr = pa.array(ids, pa.uint64())
            if len(id_arr) != received:
                raise ValueError(f"{len(id_arr)} ids for {received} records")
        if received == 0:
            return IngestResult(0, 0, 0, 0)
        if ids is not None:
            table = table.append_column("_key", id_arr)
            lo, hi = _min_max(id_arr)
            key = "CAST(_key AS UHUGEINT)"
            cols = "* EXCLUDE (_key)"
            # A caller's key may come back with other content: look for it by key.
            stored = f"SELECT _id FROM records WHERE _id BETWEEN {lo} AND {hi}"
        else:
            lo, hi = _min_max(table.column("Datetime"))
            key, cols = _KEY_EXPR, "*"
            # The same content has the same Datetime: only this time range can hold it.
            stored = f"SELECT _id FROM records WHERE Datetime BETWEEN {lo} AND {hi}"
        with self._transaction(table):
            mark = self._meta("raw_compacted_until")
            self._q(
                f"CREATE TEMP TABLE _new AS SELECT DISTINCT ON (_id) * FROM ("
                f"SELECT {key} AS _id, {cols} FROM _incoming WHERE Datetime >= {mark}) AS k "
                f"WHERE _id NOT IN ({stored})"
            )
            try:
                inserted = self._store("_new", in_order=False)  # DISTINCT ON reorders
            finally:
                self._q("DROP TABLE _new")
            late = int(self._q(f"SELECT count(*) FROM _incoming WHERE Datetime < {mark}")[0][0])
        return IngestResult(received, inserted, received - inserted - late, late)

    def ingest_stream(
        self, table: pa.Table, seqs: Sequence[int] | np.ndarray, source: str
    ) -> IngestResult:
        """Add records read from a stream, ``seqs`` their (increasing) sequence numbers.

        Samples at or below the position already taken from ``source`` are duplicates (a
        redelivery); the others are stored with their sequence number as ``_id``, and the
        position moves to the last number, all in one transaction."""
        table = _conform(table)
        seq = np.asarray(seqs, dtype=np.int64)
        received = table.num_rows
        if len(seq) != received:
            raise ValueError(f"{len(seq)} sequence numbers for {received} records")
        if received == 0:
            return IngestResult(0, 0, 0, 0)
        if np.any(seq <= 0) or np.any(seq[1:] <= seq[:-1]):
            raise ValueError("stream sequence numbers are positive and increasing")
        key = f"stream_position:{source}"
        with self._lock:
            position = self._meta(key)
            seen = int(np.searchsorted(seq, position, side="right"))  # seq[seen:] > position
            table, seq = table.slice(seen), seq[seen:]
            if not len(seq):
                return IngestResult(received, 0, received, 0)
            table = table.append_column("_key", pa.array(seq.astype(np.uint64)))
            in_order = _sorted(table)
            with self._transaction(table):
                mark = self._meta("raw_compacted_until")
                epoch = self._meta(f"stream_epoch:{source}") << 64
                inserted = self._store(
                    f"(SELECT CAST(_key AS UHUGEINT) + CAST({epoch} AS UHUGEINT) AS _id, * EXCLUDE (_key) "
                    f"FROM _incoming WHERE Datetime >= {mark})",
                    in_order,
                )
                self._set_meta(key, int(seq[-1]))
        return IngestResult(received, inserted, seen, len(seq) - inserted)

    def compact(self, now_ns: int) -> CompactResult:
        """Apply retention at ``now_ns``: raw samples older than ``raw_ns`` become minute rows,
        minute rows older than ``minute_ns`` become hour rows, hour rows older than ``hour_ns``
        are deleted; the aggregates follow the raw tier, their buckets completed since the last
        compaction are merged to one row per value combination, and quiet attacks get their
        ``attack_sources`` row. One transaction, so a crash leaves the old or the new state."""
        r = self.retention
        with self._transaction():
            mark = self._meta("raw_compacted_until")
            raw_cut = max(mark, (now_ns - r.raw_ns) // MINUTE_NS * MINUTE_NS)
            minute_cut = (now_ns - r.minute_ns) // HOUR_NS * HOUR_NS
            hour_cut = now_ns - r.hour_ns
            self._q(
                f"INSERT INTO rollup_minute SELECT Datetime - (Datetime % {MINUTE_NS}) AS b, "
                f"{_DIMS}, sum(SampleInterval), sum(IPTotalLength * SampleInterval), count(*) "
                f"FROM records WHERE Datetime < {raw_cut} GROUP BY ALL"
            )
            raw_rolled = self._delete("records", raw_cut)
            for agg in AGGREGATES:
                self._follow_raw(agg, mark, raw_cut)
                self._merge(agg, raw_cut, now_ns)
            self._summarize_attacks(now_ns)
            self._q(
                f"INSERT INTO rollup_hour SELECT Datetime - (Datetime % {HOUR_NS}) AS b, "
                f"{_DIMS}, sum(packets), sum(bytes), sum(samples) "
                f"FROM rollup_minute WHERE Datetime < {minute_cut} GROUP BY ALL"
            )
            minute_rolled = self._delete("rollup_minute", minute_cut)
            hour_deleted = self._delete("rollup_hour", hour_cut)
            self._set_meta("raw_compacted_until", raw_cut)
        return CompactResult(raw_rolled, minute_rolled, hour_deleted)

    def _summarize_attacks(self, now_ns: int) -> None:
        """(Re)compute ``attack_sources`` for attacks quiet since ``ATTACK_QUIET_NS`` whose
        samples changed since their row was written; drop rows of attacks no longer raw."""
        self._q(
            "DELETE FROM attack_sources WHERE AttackID NOT IN "
            "(SELECT DISTINCT AttackID FROM agg_attack_minute)"
        )
        self._q(
            "CREATE TEMP TABLE _todo AS SELECT a.* FROM (SELECT AttackID, sum(samples) AS n, "
            "min(first_ns) AS f, max(last_ns) AS l FROM agg_attack_minute GROUP BY 1) AS a "
            "LEFT JOIN attack_sources c ON c.AttackID = a.AttackID "
            f"WHERE a.l < {int(now_ns - ATTACK_QUIET_NS)} "
            "AND (c.AttackID IS NULL OR c.samples <> a.n OR c.first_ns <> a.f OR c.last_ns <> a.l)"
        )
        try:
            # Ordered by packets, then address, as queries.sql_attacks orders them; with each
            # source's packets, and whether the list holds every source of the attack.
            key = "(-p, IPSourceAddress)"
            self._q(
                "INSERT OR REPLACE INTO attack_sources SELECT t.AttackID, t.n, t.f, t.l, "
                "coalesce(s.ips, []), coalesce(s.ps, []), coalesce(s.k, 0) <= "
                f"{ATTACK_TOP_SOURCES} FROM _todo t LEFT JOIN (SELECT AttackID, "
                f"min_by(IPSourceAddress, {key}, {ATTACK_TOP_SOURCES}) AS ips, "
                f"min_by(p, {key}, {ATTACK_TOP_SOURCES}) AS ps, count(*) AS k FROM ("
                "SELECT AttackID, IPSourceAddress, sum(SampleInterval) AS p FROM records "
                f"WHERE {ATTACK_ROWS} AND IPSourceAddress <> '' "
                "AND AttackID IN (SELECT AttackID FROM _todo) GROUP BY 1, 2) AS g GROUP BY 1) AS s "
                "ON s.AttackID = t.AttackID"
            )
        finally:
            self._q("DROP TABLE _todo")

    def _follow_raw(self, agg: Aggregate, old_cut: int, raw_cut: int) -> None:
        """Drop ``agg``'s rows for samples that left the raw tier. A bucket that the cut
        splits (an hour bucket, the cut being per minute) is rebuilt from the samples left,
        so the aggregate still covers exactly the raw tier."""
        if raw_cut <= old_cut:
            return
        self._delete(agg.table, raw_cut)
        bucket = raw_cut - raw_cut % agg.step_ns
        if bucket < raw_cut:
            self._q(_agg_insert(agg, "records", f"Datetime < {bucket + agg.step_ns}"))

    def _merge(self, agg: Aggregate, raw_cut: int, now_ns: int) -> None:
        """Ingest writes a row per bucket and value combination per batch (a live feed's
        batches are small): re-group the buckets completed since the last merge into one row
        each. A sample arriving later for a merged bucket adds a row; sums stay exact."""
        key = f"merged_until:{agg.table}"
        since = max(self._meta(key), raw_cut - raw_cut % agg.step_ns)
        until = (now_ns - agg.step_ns) // agg.step_ns * agg.step_ns  # buckets ended by now
        if until <= since:
            return
        dims = ", ".join(f'"{d}"' for d in agg.dims)
        spans = ", min(first_ns), max(last_ns)" if agg.spans else ""
        rng = f"Datetime >= {since} AND Datetime < {until}"
        self._q(
            f"CREATE TEMP TABLE _merged AS SELECT Datetime, {dims}, sum(packets), sum(bytes), "
            f"sum(samples){spans} FROM {agg.table} WHERE {rng} GROUP BY ALL"
        )
        try:
            self._q(f"DELETE FROM {agg.table} WHERE {rng}")
            self._q(f"INSERT INTO {agg.table} SELECT * FROM _merged")
        finally:
            self._q("DROP TABLE _merged")
        self._set_meta(key, until)

    def _delete(self, table: str, before_ns: int) -> int:
        # DuckDB answers a DELETE with the number of rows it removed.
        return int(self._q(f"DELETE FROM {table} WHERE Datetime < {int(before_ns)}")[0][0])
