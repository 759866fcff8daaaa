"""Writing records to a file or stdout in the format and fields the user chose."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Literal

import pyarrow as pa

from netlogpush.dataset.formats import encode_csv, encode_ndjson

OutputFormat = Literal["ndjson", "csv"]


class RecordWriter:
    """Encodes record tables and writes them out, flushing after every batch."""

    def __init__(
        self,
        path: Path | None,
        field_names: Sequence[str] | None,
        timestamp_format: str,
        output_format: OutputFormat = "ndjson",
    ) -> None:
        self.field_names = field_names
        self.timestamp_format = timestamp_format
        self.output_format = output_format
        self._own = path is not None
        self._out: BinaryIO = path.open("wb") if path is not None else sys.stdout.buffer
        self._header_due = output_format == "csv"
        self.records = 0

    def write(self, table: pa.Table) -> None:
        if self.output_format == "csv":
            data: bytes | memoryview = encode_csv(
                table, self.field_names, self.timestamp_format, header=self._header_due
            )
            self._header_due = False
        else:
            data = encode_ndjson(table, self.field_names, self.timestamp_format)
        self._out.write(data)
        self._out.flush()
        self.records += table.num_rows

    def close(self) -> None:
        if self._own:
            self._out.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
