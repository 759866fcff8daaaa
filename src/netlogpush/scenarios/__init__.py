"""Reproducible traffic scenarios, written as pcap files (``netlogpush generate``)."""
