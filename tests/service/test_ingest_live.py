"""service.Ingest publishes each table it appends to the stream to the live feed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pyarrow as pa

from netlogpush.dataset.records import SCHEMA
from netlogpush.logpush.live import LiveFeed
from netlogpush.pipeline import Pipeline
from netlogpush.scenarios.mixed import write_mixed_pcap
from netlogpush.service import Ingest
from netlogpush.sources.pcap import CaptureReader
from netlogpush.stream import open_stream


def test_ingest_feeds_live_subscribers_what_it_appends(tmp_path: Path) -> None:
    capture = tmp_path / "mixed.pcap"
    write_mixed_pcap(capture, packets=2000, seed=5)
    stream = open_stream(tmp_path / "stream")
    feed = LiveFeed(max_queued=10_000)  # large: this test wants every batch, no drops
    ingest = Ingest(Pipeline(sample_interval=1, seed=1), stream, live=feed)

    async def run() -> list[pa.Table]:
        sub = feed.subscribe()
        ingest.add("capture", iter(CaptureReader(capture)))
        await asyncio.to_thread(ingest.stop, 30.0)
        got: list[pa.Table] = []
        while sub.queued_records > sum(t.num_rows for t in got):
            table = await asyncio.wait_for(sub.next_table(), 5.0)
            assert table is not None
            got.append(table)
        return got

    try:
        tables = asyncio.run(run())
    finally:
        stream.close()
    assert ingest.appended > 0
    assert sum(t.num_rows for t in tables) == ingest.appended == feed.published_records
    assert all(t.schema == SCHEMA for t in tables)
