"""Fixtures for the delivery tests; the receivers live in delivery_receivers.py (a unique
module name, so tests importing helpers never pick up another directory's conftest)."""

from __future__ import annotations

from delivery_receivers import hec_receiver, https_receiver, moto_s3, tls_cert

__all__ = ["hec_receiver", "https_receiver", "moto_s3", "tls_cert"]
