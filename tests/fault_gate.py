"""A TCP gate on loopback in front of a real server, for fault tests.

The gate forwards bytes both ways between clients and the server behind it. It can go *down*
(its listening socket closes and every open connection is reset, so clients see "connection
refused" and "connection reset", as when a server process stops) and come *up* again on the same
port (as when the server restarts), while the server behind it keeps its data. It counts HTTP
requests (client chunks that start with a method) and can go down by itself at the N-th one, so a
fault lands in the middle of a multi-request read every time.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable

__all__ = ["Gate"]

_METHODS = (b"GET ", b"HEAD ", b"PUT ", b"POST ", b"DELETE ")


class Gate:
    """A forwarding gate from ``127.0.0.1:port`` to ``127.0.0.1:upstream``."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._open = False
        self.requests = 0
        self.trip_at: int | None = None
        self.on_trip: Callable[[], None] | None = None
        self.tripped = threading.Event()
        self._listener.listen(64)
        self._serve()

    @property
    def endpoint(self) -> str:
        """The URL clients use."""
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self._open = True
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the gate went down
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream), timeout=10)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            with self._lock:
                if not self._open:
                    _reset(client)
                    _reset(server)
                    return
                self._conns.update((client, server))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, upward: bool) -> None:
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                if upward and data.startswith(_METHODS):
                    with self._lock:
                        self.requests += 1
                        trip = self.trip_at is not None and self.requests >= self.trip_at
                    if trip:
                        self.trip_at = None
                        self.down()
                        self.tripped.set()
                        if self.on_trip is not None:
                            self.on_trip()
                        return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def down(self) -> None:
        """Stop listening and reset every open connection."""
        with self._lock:
            self._open = False
            conns, self._conns = list(self._conns), set()
            listener = self._listener
        with contextlib.suppress(OSError):
            listener.close()
        for conn in conns:
            _reset(conn)

    def up(self) -> None:
        """Listen again on the same port."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        with self._lock:
            self._listener = listener
        self._serve()

    def close(self) -> None:
        """Down for good (the test is over)."""
        self.down()


def _reset(sock: socket.socket) -> None:
    # SO_LINGER with a zero timeout: close sends RST, as a dying server's kernel does; the
    # shutdown first wakes the pump blocked in recv() on it (close alone would not)
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
