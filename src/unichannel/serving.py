"""The HTTP protocol the server runs: uvicorn's httptools protocol, with the writes of one event-loop turn sent together.

uvicorn writes a response's status line and headers, then its body, as two writes: on an idle socket each is a
`send()` system call and a TCP segment of its own. Profiled under the flash-sale benchmark, those two calls were two
fifths of a worker's time on the trivial route and a sixth on the order route. Here every write a connection makes
in one turn of the loop is held and sent as one at the end of that turn, so a whole response (headers and body, sent
by the application back to back) leaves in one call. A streamed response's later chunks each still leave in the turn
they were written in: nothing waits longer than the current turn.

Run it with `uvicorn --http unichannel.serving:Protocol` (as `unichannel serve` and the benchmarks do).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class TurnCoalescingTransport:
    """A transport that sends what was written to it during one loop turn in one write; everything else is the
    wrapped transport's own."""

    __slots__ = ("_transport", "_loop", "_held")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if self._held is None:
            self._held = [bytes(data)]
            self._loop.call_soon(self.flush)
        else:
            self._held.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held and not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:  # what was written before the close still goes, first
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:  # an abort drops what is pending, held or not
        self._held = None
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(chunk) for chunk in self._held or ())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a `TurnCoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(TurnCoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
