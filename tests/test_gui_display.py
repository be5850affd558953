"""On a real X display (Xvfb): what the screen shows after opening a run is what the window would draw afresh.

Offscreen rendering repaints whole widgets, so stale drawing (parts of an earlier frame the scene did not know to
repaint) only shows on a real display. Skipped where Xvfb is not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = r'''
import sys
from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication
from recycler_gui.core.report import Report, Row, RowKind
from recycler_gui.gui.main_window import MainWindow


def settle(milliseconds):
    loop = QEventLoop()
    QTimer.singleShot(milliseconds, loop.quit)
    loop.exec()


app = QApplication(sys.argv[:1])
window = MainWindow(QSettings(sys.argv[1], QSettings.Format.IniFormat))
window.show()
settle(800)
report = Report(status="finished", run_id="20250101-000000-aaaaaa")
names = ["no-prompt", "random", "class-label", "v2v-lin", "v2v-nn", "lin-comb", "ridge", "procrustes", "relative"]
for index, name in enumerate(names):
    report.add(Row(name, RowKind.BASELINE if index < 3 else RowKind.RECYCLED, accuracy=0.45 + 0.02 * index))
report.add(Row("tuned on target", RowKind.TARGET_PROMPT, accuracy=0.88))
report.add(Row("source prompt", RowKind.SOURCE, accuracy=0.86))
window.show_report(report)
settle(1500)
view = window.plots.accuracy_view
corner = view.mapTo(window, view.rect().topLeft())
on_screen = app.primaryScreen().grabWindow(window.winId()).toImage()
afresh = window.grab().toImage()
on_screen = on_screen.copy(corner.x(), corner.y(), view.width(), view.height())
afresh = afresh.copy(corner.x(), corner.y(), view.width(), view.height())
different = sum(on_screen.pixel(x, y) != afresh.pixel(x, y)
                for x in range(0, view.width(), 2) for y in range(0, view.height(), 2))
print("different pixels:", different)
'''


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs Xvfb (apt-get install xvfb)")
def test_opening_a_run_leaves_no_stale_bar_labels_on_screen(tmp_path: Path) -> None:
    environment = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    result = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-c", SCRIPT,
         str(tmp_path / "settings.ini")],
        capture_output=True, text=True, timeout=120, env=environment,
    )
    assert "different pixels: 0" in result.stdout, result.stdout + result.stderr
