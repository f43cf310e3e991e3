"""The live-pages benchmark's arithmetic: a page that skipped a value in a burst still counts as showing it when it
showed a later one; a page that never showed a change counts as missed."""

from __future__ import annotations

from unichannel.bench.live_pages import Latencies, Page, latencies


def _page(*shown: tuple[float, int]) -> Page:
    page = Page()
    page.shown = list(shown)
    return page


def test_a_later_value_shows_every_earlier_change_and_a_missing_one_is_missed() -> None:
    sent = {9: 10.0, 8: 10.1, 7: 10.2}  # stock after each change -> when it was sent
    quick = _page((10.05, 9), (10.35, 7))  # 8 was skipped: the redraw after it already showed 7
    stuck = _page((10.40, 9))  # never showed 8 or 7
    result = latencies([quick, stuck], sent, lambda shown, value: shown <= value)
    assert [round(s) for s in result.samples] == [50, 250, 150, 400]
    assert result.missed == 2


def test_the_summary_counts_what_is_within_the_one_second_target() -> None:
    figures = Latencies(samples=[100.0] * 98 + [900.0, 1500.0], missed=1).summary()
    assert figures["samples"] == 100 and figures["missed"] == 1
    assert figures["p50_ms"] == 100.0 and figures["p99_ms"] == 1500.0 and figures["max_ms"] == 1500.0
    assert figures["within_target"] == 0.99
    assert Latencies().summary() == {"samples": 0, "missed": 0}
