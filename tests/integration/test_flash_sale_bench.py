"""The flash-sale benchmark end to end, kept small: it must measure all three endpoints and count what it claims."""

from __future__ import annotations

import pytest

from unichannel.bench import flash_sale

from tests.conftest import PG_DSN, require_postgres

pytestmark = pytest.mark.postgres


def test_a_small_flash_sale_benchmark_measures_every_endpoint_and_finds_nothing_oversold_or_lost():
    require_postgres()
    report = flash_sale.run(workers=1, connections=8, duration=1, shoppers=12, admin_dsn=PG_DSN)
    scenarios = report["scenarios"]
    assert set(scenarios) == {"unichannel", "trivial", "sold_out", "naive"}
    for name in ("unichannel", "naive"):
        placed = scenarios[name]
        assert placed["acknowledged"] > 0 and set(placed["statuses"]) == {"201"}, placed
        # Every acknowledged order was found; beyond them, only requests still in flight when wrk stopped (one per
        # connection at most) may have been committed unanswered.
        assert placed["acknowledged"] <= placed["in_database"] <= placed["acknowledged"] + 8
    assert scenarios["trivial"]["statuses"].keys() == {"200"} and scenarios["trivial"]["requests_per_s"] > 0
    sold_out = scenarios["sold_out"]
    assert sold_out["statuses"].get("201", 0) <= sold_out["in_database"] <= 1000  # never more than the sale's units
    assert report["oversold"] == 0 and report["lost"] == 0
    assert report["ratio_unichannel_to_naive"] == round(
        scenarios["unichannel"]["orders_per_s"] / scenarios["naive"]["orders_per_s"], 2)
    assert len(report["memory_per_worker_mib"]) >= 1 and report["cpu_count"] >= 1
    for scenario in scenarios.values():  # what each answered request cost in CPU, process by process
        assert scenario["cpu_us_per_request"]["workers"] > 0 and scenario["cpu_us_per_request"]["load_generator"] > 0
    # orders cost the database; the trivial route does not touch it (its share is the server's background work)
    assert scenarios["unichannel"]["cpu_us_per_request"]["postgresql"] > scenarios["trivial"]["cpu_us_per_request"][
        "postgresql"] >= 0
