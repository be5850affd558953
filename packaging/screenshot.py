"""Take a screenshot of the window after a comparison, in a real window (run it under Xvfb on a headless machine).

    xvfb-run -a -s "-screen 0 1600x1000x24" python packaging/screenshot.py --demo --out docs/screenshot.png
    xvfb-run -a -s "-screen 0 1600x1000x24" python packaging/screenshot.py --job JOB.json --out docs/screenshot.png
    xvfb-run -a -s "-screen 0 1600x1000x24" python packaging/screenshot.py --run RUN_ID --out docs/screenshot.png

``--demo`` runs the demo (File › Load the demo, then Run); ``--job`` fills the inputs from a job file and clicks Run;
``--run`` reopens a stored run (see `prompt-recycler
runs`). The picture is taken once the run has finished and the window has settled.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication

from recycler_gui.core.runs.pipeline import Job
from recycler_gui.core.runs.store import open_run
from recycler_gui.gui.main_window import MainWindow
from recycler_gui.gui.resources import app_icon


def settle(milliseconds: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(milliseconds, loop.quit)
    loop.exec()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--demo", action="store_true", help="run the demo")
    source.add_argument("--job", type=Path, help="a job file to run")
    source.add_argument("--run", help="a stored run to reopen")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshot.png"))
    parser.add_argument("--size", default="1400x900", help="window size, WIDTHxHEIGHT (default: the window's own)")
    args = parser.parse_args()

    app = QApplication(sys.argv[:1])
    app.setWindowIcon(app_icon())
    with tempfile.TemporaryDirectory() as scratch:  # the window as it first opens, not as someone left it
        window = MainWindow(QSettings(str(Path(scratch) / "settings.ini"), QSettings.Format.IniFormat))
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.move(0, 0)
    window.show()
    if args.job or args.demo:
        if args.demo:
            window.load_demo()
        else:
            window.inputs.set_job(Job.from_file(args.job))
        settle(2000)
        window.start_run()
        while window.running:
            settle(500)
    else:
        report = open_run(args.run).load_report()
        window.inputs.set_job(Job.from_dict(report.job))
        window.show_report(report)
    for _ in range(120):  # let the model summaries finish reading (a minute at most)
        if not any(p.summary.text().startswith("Reading") for p in (window.inputs.source, window.inputs.target)):
            break
        settle(500)
    settle(2000)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.out))
    print(json.dumps({"screenshot": str(args.out), "status": window.report and window.report.status,
                      "run": window.report and window.report.run_id, "seconds": window.report and window.report.seconds,
                      "ui_delay": window.last_lag}))
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
