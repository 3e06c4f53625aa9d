"""``python -m intentmeta.cli``."""

from __future__ import annotations

import sys

from intentmeta.cli import main

if __name__ == "__main__":  # not on import (doctest collection imports every module)
    sys.exit(main())
