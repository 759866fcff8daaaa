"""The ``network_analytics_logs`` dataset: fields, record tables and output formats.

Every other package depends on this one; it depends on none of them.
"""

from netlogpush.dataset.fields import FIELD_NAMES, FIELDS, Field
from netlogpush.dataset.formats import encode_csv, encode_ndjson
from netlogpush.dataset.records import SCHEMA, make_table

__all__ = ["FIELDS", "FIELD_NAMES", "SCHEMA", "Field", "encode_csv", "encode_ndjson", "make_table"]
