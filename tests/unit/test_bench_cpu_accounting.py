"""How the benchmarks count CPU time: a process that ends during a run must not take its time with it."""

from __future__ import annotations

import os
import subprocess
import sys

from unichannel.bench.flash_sale import _cpu_seconds

BURN_THEN_WAIT = "import sys, time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n" \
                 "print('burnt', flush=True)\nsys.stdin.read()"


def test_the_cpu_of_a_child_that_ends_moves_to_its_parent_and_the_total_never_goes_down():
    child = subprocess.Popen([sys.executable, "-c", BURN_THEN_WAIT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    assert child.stdout.readline() == "burnt\n"
    listed = [str(os.getpid()), str(child.pid)]
    before, child_alone = _cpu_seconds(listed), _cpu_seconds([str(child.pid)])
    assert child_alone >= 0.25  # it spent its 0.3 s (give or take a clock tick) before the first count

    child.communicate("")  # it ends and is waited for: its time is now this process's children's time
    after = _cpu_seconds(listed)

    assert _cpu_seconds([str(child.pid)]) == 0  # gone, counted as nothing by itself
    assert after >= before  # a backend that closes mid-run cannot make PostgreSQL's CPU per order negative
    assert after - before < child_alone - 0.1  # and it is not counted twice (this process spent a few ms meanwhile)
