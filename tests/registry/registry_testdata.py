"""Plates, keys and the server thread the registry tests share (a module with a unique name,
importable from any test; conftest.py is not, since every test folder has one)."""

from __future__ import annotations

import socket
import threading
import time

#: Plates the contract tests rely on (the random filler uses only the 12 Cyrillic-twin letters,
#: so plates with D, Q or Z can never collide with it).
EXACT_PLATE = "01123ABC"
FUZZY_TRUTH = "01777AOC"  # a read "01 777 ADC" has exactly this one registered variant
AMBIGUOUS_TRUTHS = ("02555BOX", "02555BQX")  # a read "02 555 BDX" has both
MISSING_PLATE = "09999XYZ"
INCLUDED = (EXACT_PLATE, FUZZY_TRUTH, *AMBIGUOUS_TRUTHS)
API_KEY = "test-key-1"


class ServerThread:
    """A real uvicorn server in a background thread, on a free port of 127.0.0.1."""

    def __init__(self, app) -> None:
        import uvicorn

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("test registry server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()
