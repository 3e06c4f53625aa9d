"""``python -m intentmeta.cli``."""

from __future__ import annotations

import sys

from intentmeta.cli import main

sys.exit(main())
