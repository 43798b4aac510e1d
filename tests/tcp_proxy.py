"""A loopback TCP proxy for tests: forwards to a server until told to hold, then accepts and never replies."""

from __future__ import annotations

import select
import socket
import threading
from types import TracebackType


class Proxy:
    """Forwards every connection to `target`; after `hold()` it keeps the connections (and accepts new
    ones) but forwards nothing, as a server that hangs does."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.forwarding = threading.Event()
        self.forwarding.set()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        while True:
            try:
                readable, _, _ = select.select([client, server], [], [], 0.05)
            except (OSError, ValueError):
                return
            if not self.forwarding.is_set():
                continue
            for source in readable:
                try:
                    data = source.recv(65536)
                    if not data:
                        client.close()
                        server.close()
                        return
                    (server if source is client else client).sendall(data)
                except OSError:
                    return

    def hold(self) -> None:
        """Stop forwarding: every connection, old or new, waits for ever."""
        self.forwarding.clear()

    def resume(self) -> None:
        """Forward again."""
        self.forwarding.set()

    def close(self) -> None:
        """Stop listening and drop every connection."""
        self.listener.close()
        for sock in self.sockets:
            sock.close()

    def __enter__(self) -> Proxy:
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()
