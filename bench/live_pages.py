#!/usr/bin/env python3
"""Runs `unichannel bench live-pages` from a checkout: python bench/live_pages.py [--workers 2 --viewers 200 ...]."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from unichannel.cli import app  # noqa: E402

if __name__ == "__main__":
    app(["bench", "live-pages", *sys.argv[1:]], prog_name="unichannel")
