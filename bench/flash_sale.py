#!/usr/bin/env python3
"""Runs `unichannel bench flash-sale` from a checkout: python bench/flash_sale.py [--workers 1 --connections 256 ...]."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from unichannel.cli import app  # noqa: E402

if __name__ == "__main__":
    app(["bench", "flash-sale", *sys.argv[1:]], prog_name="unichannel")
