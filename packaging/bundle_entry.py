"""Entry script of the one-folder app bundle (PyInstaller): opens the window, as `prompt-recycler-gui` does."""

from __future__ import annotations

import sys

from recycler_gui.gui.app import main

if __name__ == "__main__":
    sys.exit(main())
