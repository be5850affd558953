"""Render the SVG app icon to the PNG sizes desktops look for: resources/icons/hicolor/NxN/apps/APP_ID.png.

    QT_QPA_PLATFORM=offscreen python packaging/render_icons.py
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from recycler_gui.desktop_entry import APP_ID, ICON_SIZES

ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "resources" / "icons"


def main() -> None:
    app = QGuiApplication([])  # noqa: F841  (Qt's image code needs an application)
    renderer = QSvgRenderer(str(ICONS / "prompt-recycler.svg"))
    for size in ICON_SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        out = ICONS / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        image.save(str(out))
        print(out.relative_to(ROOT))


if __name__ == "__main__":
    main()
