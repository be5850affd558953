"""``python -m recycler_gui`` opens the desktop application."""

import sys

from .gui.app import main

sys.exit(main())
