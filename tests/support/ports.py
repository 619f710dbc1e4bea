"""Loopback ports for the servers tests start (kb_serve, a private redis-server)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback port nothing listens on right now; the operating system picks it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
