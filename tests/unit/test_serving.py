"""The server's HTTP protocol sends the writes of one loop turn together: a whole response in one write, a streamed
response's later chunks in the turn they were written in, nothing lost or reordered on close."""

from __future__ import annotations

import asyncio

from uvicorn.config import Config
from uvicorn.server import ServerState

from unichannel.serving import Protocol, TurnCoalescingTransport


class FakeTransport(asyncio.Transport):
    """Records each write as the socket would see it (one entry per send)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


async def _turn() -> None:
    await asyncio.sleep(0)


async def test_writes_of_one_turn_leave_as_one_write_at_the_end_of_the_turn():
    raw = FakeTransport()
    transport = TurnCoalescingTransport(raw, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(memoryview(b"{}"))
    transport.write(b"")
    assert raw.writes == []  # held until the turn ends
    assert transport.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\n\r\n{}")
    await _turn()
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}"]
    transport.write(b"later")
    await _turn()
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}", b"later"]


async def test_close_sends_what_is_held_first_and_abort_drops_it():
    raw = FakeTransport()
    transport = TurnCoalescingTransport(raw, asyncio.get_running_loop())
    transport.writelines([b"a", b"b"])
    transport.close()
    assert (raw.writes, raw.closed) == ([b"ab"], True)
    await _turn()  # the turn's own flush finds nothing more to send
    assert raw.writes == [b"ab"]

    raw = FakeTransport()
    transport = TurnCoalescingTransport(raw, asyncio.get_running_loop())
    transport.write(b"gone")
    transport.abort()
    await _turn()
    assert (raw.writes, raw.aborted) == ([], True)


async def test_what_is_held_for_a_peer_that_went_away_is_dropped():
    raw = FakeTransport()
    transport = TurnCoalescingTransport(raw, asyncio.get_running_loop())
    transport.write(b"too late")
    raw.closed = True  # the connection was lost during the turn
    await _turn()
    assert raw.writes == []


async def _serve(app, request: bytes) -> list[bytes]:  # noqa: ANN001 - an ASGI application
    """One request through the server's protocol; the writes the socket saw, once the response is complete."""
    protocol = Protocol(Config(app, log_level="warning"), ServerState(), {}, asyncio.get_running_loop())
    raw = FakeTransport()
    protocol.connection_made(raw)
    protocol.data_received(request)
    for _ in range(100):
        if protocol.cycle is not None and protocol.cycle.response_complete:
            break
        await asyncio.sleep(0.001)
    await _turn()
    protocol.connection_lost(None)
    return raw.writes


async def test_a_whole_response_leaves_in_one_write():
    async def app(scope, receive, send):  # noqa: ANN001, ANN202
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"11")]})
        await send({"type": "http.response.body", "body": b'{"id": 42}\n'})

    writes = await _serve(app, b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")

    assert len(writes) == 1
    assert writes[0].startswith(b"HTTP/1.1 201 Created\r\n") and writes[0].endswith(b'\r\n\r\n{"id": 42}\n')


async def test_a_streamed_response_sends_each_chunk_in_the_turn_it_was_written():
    async def app(scope, receive, send):  # noqa: ANN001, ANN202
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        await asyncio.sleep(0.01)  # the next event comes later
        await send({"type": "http.response.body", "body": b"data: 2\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    writes = await _serve(app, b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n")

    assert len(writes) == 2  # the headers with the first event; the second event with the end of the stream
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b"\r\n\r\n9\r\ndata: 1\n\n\r\n")
    assert writes[1] == b"9\r\ndata: 2\n\n\r\n0\r\n\r\n"
