"""Helpers for tests, benchmarks and plugin authors: packet builders and encoders.

``netlogpush.testing.packets`` builds frames and pcap files; the other modules here encode
inputs (sFlow datagrams) the way a real exporter would; ``net`` and ``server`` give loopback
ports and a real uvicorn in a thread. Nothing in this package is used on a
production path.
"""
