"""The user guide's screenshots, taken in a real window (run under Xvfb on a headless machine).

    xvfb-run -a -s "-screen 0 1600x1000x24" python packaging/guide_screenshots.py --compare RUN_ID --retune RUN_ID \
        --batch BATCH_ID

Writes docs/guide/*.png: the demo loaded; a finished comparison (``--compare``, a stored run); re-tuning curves
(``--retune``, a stored run with re-tuning); the export dialog; a batch of prompts (``--batch``); an error dialog.
Stored runs: `prompt-recycler runs`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from recycler_gui.core.report import RowKind
from recycler_gui.core.runs.batch import open_batch
from recycler_gui.core.runs.pipeline import Job
from recycler_gui.core.runs.store import open_run
from recycler_gui.gui.inputs import PATH_SEPARATOR
from recycler_gui.gui.main_window import EXPORT_FORMATS, MainWindow
from recycler_gui.gui.resources import app_icon

OUT = Path(__file__).resolve().parent.parent / "docs" / "guide"


def settle(milliseconds: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(milliseconds, loop.quit)
    loop.exec()


def wait_for_summaries(window: MainWindow) -> None:
    for _ in range(240):
        if not any(p.summary.text().startswith("Reading") for p in (window.inputs.source, window.inputs.target)):
            break
        settle(500)
    settle(1500)


def save_window(window: MainWindow, name: str) -> None:
    window.grab().save(str(OUT / name))
    print(OUT / name)


def save_screen(name: str) -> None:
    QGuiApplication.primaryScreen().grabWindow(0).save(str(OUT / name))
    print(OUT / name)


def show_run(window: MainWindow, run_id: str) -> None:
    report = open_run(run_id).load_report()
    window.inputs.set_job(Job.from_dict(report.job))
    window.show_report(report)
    wait_for_summaries(window)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", required=True, help="a stored run to show as the finished comparison")
    parser.add_argument("--retune", required=True, help="a stored run with re-tuning curves")
    parser.add_argument("--batch", required=True, help="a stored batch of prompts")
    parser.add_argument("--size", default="1400x900")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv[:1])
    app.setWindowIcon(app_icon())
    with tempfile.TemporaryDirectory() as scratch:  # the window as it first opens, not as someone left it
        window = MainWindow(QSettings(str(Path(scratch) / "settings.ini"), QSettings.Format.IniFormat))
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.move(0, 0)
    window.show()

    window.load_demo()
    wait_for_summaries(window)
    save_window(window, "01-demo-loaded.png")

    show_run(window, args.compare)
    save_window(window, "02-comparison.png")
    best = max(window.report.of_kind(RowKind.RECYCLED), key=lambda r: r.accuracy)
    table = window.table
    for index in range(table.results.rowCount()):
        if table.results.row_at(index).key == best.key:
            table.selectRow(table.proxy.mapFromSource(table.results.index(index, 0)).row())
    dialog = QFileDialog(window, f"Export the {best.name} prompt", str(Path.home() / best.name),
                         ";;".join(EXPORT_FORMATS))
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.resize(900, 520)
    dialog.show()
    settle(1500)
    save_screen("04-export.png")
    dialog.close()

    show_run(window, args.retune)
    window.plots.grab().save(str(OUT / "03-retuning.png"))  # the plots alone, larger
    print(OUT / "03-retuning.png")

    batch = open_batch(open_run(args.batch).path)
    window.inputs.set_job(Job.from_dict({**batch.job, "prompt": PATH_SEPARATOR.join(p.prompt for p in batch.prompts)}))
    window.show_report(batch)
    wait_for_summaries(window)
    save_window(window, "07-many-prompts.png")

    box = QMessageBox(QMessageBox.Icon.Warning, "Prompt Recycler",
                      "The prompt's rows are 640 wide but the source model smollm2-135m has hidden size 576. Pick "
                      "the model the prompt was trained on as the source.", parent=window)
    box.show()
    settle(1000)
    save_screen("05-error.png")
    box.close()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
