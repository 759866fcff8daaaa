"""A real uvicorn server in a thread, for tests and benchmarks that talk to an app over loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from netlogpush.testing.net import free_port


@contextmanager
def serve_in_thread(
    app: Callable[..., Any], *, ws: str = "auto", start_timeout_s: float = 15.0
) -> Iterator[str]:
    """``app`` under uvicorn on 127.0.0.1 in a daemon thread; yields ``http://127.0.0.1:PORT``.

    ``ws`` picks uvicorn's WebSocket implementation (``"websockets-sansio"`` avoids the
    deprecated legacy one). No app here has a lifespan, so it is off: nothing to wait for. The
    start-up wait and the join at exit are bounded, so a server that never starts fails the
    caller instead of hanging it.
    """
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws=ws
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout_s
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
