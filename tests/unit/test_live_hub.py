"""The live pages' fan-out: each listener gets the events it wants, a slow one loses its oldest events, one redraw is
shared by every viewer of the same event; and the broadcast payloads fit PostgreSQL's NOTIFY."""

from __future__ import annotations

import asyncio

import orjson

from unichannel.events import Event, broadcast_payloads
from unichannel.pages import live
from unichannel.pages.live import LiveHub


def _stock(variant_id: int, n: int = 0) -> Event:
    return Event("stock.changed", "stock", str(variant_id), {"variant_id": variant_id, "n": n}, id=n)


async def _take(stream, count: int) -> list:  # noqa: ANN001
    return [await anext(stream) for _ in range(count)]


async def test_each_listener_gets_only_the_events_it_wants_in_order() -> None:
    hub = LiveHub()
    tees = hub.listen(lambda e: e.payload["variant_id"] == 1, heartbeat_seconds=5)
    mugs = hub.listen(lambda e: e.payload["variant_id"] == 2, heartbeat_seconds=5)
    first_tee, first_mug = asyncio.ensure_future(anext(tees)), asyncio.ensure_future(anext(mugs))
    await asyncio.sleep(0)  # both listening
    assert hub.listeners == 2
    for n, variant in enumerate([1, 2, 1, 1], start=1):
        await hub.deliver(_stock(variant, n))
    got_tees = [await first_tee, *await _take(tees, 2)]
    assert [e.id for e in got_tees] == [1, 3, 4]
    assert (await first_mug).id == 2
    await tees.aclose()
    await mugs.aclose()
    assert hub.listeners == 0


async def test_a_listener_that_falls_behind_loses_its_oldest_events_not_its_newest() -> None:
    hub = LiveHub()
    stream = hub.listen(lambda e: True, heartbeat_seconds=5)
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)  # listening, but it does not run again until the burst is over
    for n in range(1, live.QUEUE_SIZE + 11):  # 10 more than its queue holds
        await hub.deliver(_stock(1, n))
    got = [await first, *await _take(stream, live.QUEUE_SIZE - 1)]
    assert [e.id for e in got] == list(range(11, live.QUEUE_SIZE + 11))  # 1..10 dropped, the newest kept
    more = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.01)
    assert not more.done()  # nothing else was queued
    more.cancel()
    await asyncio.gather(more, return_exceptions=True)
    assert hub.listeners == 0  # a cancelled listener is gone


async def test_a_quiet_stream_yields_heartbeats() -> None:
    hub = LiveHub()
    stream = hub.listen(lambda e: True, heartbeat_seconds=0.01)
    assert await anext(stream) is None
    await stream.aclose()


async def test_one_render_is_shared_by_every_viewer_of_the_same_event() -> None:
    hub = LiveHub()
    calls = 0
    gate = asyncio.Event()

    async def render() -> str:
        nonlocal calls
        calls += 1
        await gate.wait()
        return f"<p>{calls}</p>"

    viewers = [asyncio.ensure_future(hub.shared(("p", 7, "zh_CN", 41), render)) for _ in range(50)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*viewers) == ["<p>1</p>"] * 50
    assert calls == 1 and hub.renders_made == 1
    assert await hub.shared(("p", 7, "en", 41), render) == "<p>2</p>"  # another language is another render
    assert calls == 2


async def test_a_viewer_leaving_does_not_cancel_the_render_the_others_wait_for() -> None:
    hub = LiveHub()
    gate = asyncio.Event()

    async def render() -> str:
        await gate.wait()
        return "<p>ok</p>"

    leaving = asyncio.ensure_future(hub.shared("k", render))
    staying = asyncio.ensure_future(hub.shared("k", render))
    await asyncio.sleep(0)
    leaving.cancel()
    gate.set()
    assert await staying == "<p>ok</p>"
    assert leaving.cancelled() and hub.renders_made == 1


async def test_a_failed_render_is_not_kept_so_the_next_viewer_tries_again() -> None:
    hub = LiveHub()
    attempts = 0

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionError("database went away")
        return "<p>ok</p>"

    try:
        await hub.shared("k", flaky)
    except ConnectionError:
        pass
    else:
        raise AssertionError("the first render failed and its viewer must see it")
    await asyncio.sleep(0)
    assert await hub.shared("k", flaky) == "<p>ok</p>"
    assert attempts == 2


def test_broadcast_payloads_fit_notify_and_carry_every_event_once_in_order() -> None:
    events = [Event("order.paid", "order", str(n), {"note": "x" * (n % 50) * 20}, id=n) for n in range(1, 400)]
    huge = Event("order.placed", "order", "999", {"note": "y" * 10_000}, id=999)
    payloads = list(broadcast_payloads([*events[:200], huge, *events[200:]], limit=2000))
    assert all(len(p) <= 2000 for p in payloads)
    items = [item for p in payloads for item in orjson.loads(p)]
    assert [i["id"] for i in items] == [*range(1, 201), 999, *range(201, 400)]
    assert {"id": 999} in items  # too big to send: by id only, read from the outbox by the receiver
    sent = {i["id"]: i for i in items}
    assert sent[7]["topic"] == "order.paid" and sent[7]["payload"] == {"note": "x" * 140}
    assert len(payloads) > 1
