"""The ``no_network`` fixture (tests/conftest.py) that the offline-loading tests rely on."""

import socket

import pytest


def test_no_network_refuses_every_connection(no_network) -> None:
    """Under the fixture both ways of opening a TCP connection fail, even to this machine."""
    with pytest.raises(OSError, match="network blocked by test"):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    with socket.socket() as sock, pytest.raises(OSError, match="network blocked by test"):
        sock.connect(("127.0.0.1", 9))
