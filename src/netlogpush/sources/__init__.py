"""Packet sources: capture files (``pcap``), live interfaces (``live``) and sFlow (``sflow``).

Every source yields :class:`netlogpush.decode.frames.FrameBatch` objects.
"""
