"""``python -m recycler_gui.cli``."""

import sys

from . import main

sys.exit(main())
