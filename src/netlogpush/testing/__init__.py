"""Helpers for tests, benchmarks and plugin authors: packet builders and encoders.

``netlogpush.testing.packets`` builds frames and pcap files; the other modules here encode
inputs (sFlow datagrams) the way a real exporter would. Nothing in this package is used on a
production path.
"""
