"""How late the window's event loop runs during the demo: a real window, the demo loaded, Run pressed, the 50 ms
timer the window logs after each run (``gui/responsiveness.py``) read out at the end.

    xvfb-run -a -s "-screen 0 1600x1000x24" python bench/ui_delay.py --label after

Prints and stores (``bench/results/ui_delay.json``, one entry per ``--label``) the median, 99th percentile and worst
delay, the run's wall time, and the stages during which the loop stalled longest; writes the "Window
responsiveness" section of docs/BENCHMARKS.md from every stored label. The demo models must be fetched
(``prompt-recycler models fetch smollm2-135m gemma3-270m``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from common import RESULTS, machine_line, save_json, write_section
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from recycler_gui.gui.main_window import MainWindow
from recycler_gui.gui.responsiveness import percentile

RESULTS_FILE = "ui_delay.json"


def settle(milliseconds: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(milliseconds, loop.quit)
    loop.exec()


def stage_shown(window: MainWindow) -> str:
    """The stage the window shows (its status bar; earlier windows had the label on the window itself)."""
    status = getattr(window, "status", None)
    return status.stage_name if status is not None else window.stage.text()


def measure() -> dict:
    """One demo run in a window; the timer's delays, with the stage shown at each of the ten longest."""
    app = QApplication(sys.argv[:1])
    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    window.load_demo()
    stalls: list[tuple[float, str]] = []
    meter = window.meter
    tick = meter._tick

    def noted_tick() -> None:
        tick()
        stalls.append((meter.delays_ms[-1], stage_shown(window)))

    meter.timer.timeout.disconnect(tick)
    meter.timer.timeout.connect(noted_tick)
    settle(1000)
    started = time.perf_counter()
    window.start_run()
    while window.running:
        settle(200)
    seconds = time.perf_counter() - started
    delays = list(meter.delays_ms)
    result = {
        "status": window.report.status if window.report else None,
        "run_id": window.report.run_id if window.report else None, "run_seconds": round(seconds, 1),
        "samples": len(delays),
        "median_ms": round(percentile(delays, 50), 1), "p99_ms": round(percentile(delays, 99), 1),
        "worst_ms": round(max(delays), 1),
        "longest": [{"ms": round(ms, 1), "stage": stage} for ms, stage in sorted(stalls, reverse=True)[:10]],
    }
    window.close()
    app.processEvents()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label", required=True, help="what was measured, e.g. 'before' or 'after'")
    parser.add_argument("--note", default="", help="added to the label's row, e.g. the commit")
    args = parser.parse_args()
    path = RESULTS / RESULTS_FILE
    stored = json.loads(path.read_text()) if path.exists() else {}
    result = measure()
    stored[args.label] = {**result, "note": args.note, "machine": machine_line()}
    print(json.dumps(stored[args.label], indent=2), flush=True)
    save_json(RESULTS_FILE, stored)
    write_section("Window responsiveness", [
        'Command: `xvfb-run -a -s "-screen 0 1600x1000x24" python bench/ui_delay.py --label LABEL`', "",
        "How much later than due a 50 ms timer fires on the window's event loop while the demo runs (the window's "
        "own meter, logged after each run); over 100 ms is felt as lag. One full demo run in a real window under "
        "Xvfb per row.", "",
        "| label | median | 99th percentile | worst | samples | run | longest stall during |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *[f"| {label}{' (' + r['note'] + ')' if r['note'] else ''} | {r['median_ms']} ms | {r['p99_ms']} ms | "
          f"{r['worst_ms']} ms | {r['samples']} | {r['run_seconds']:.0f} s | {r['longest'][0]['stage']} |"
          for label, r in stored.items()],
        "", *sorted({r["machine"] for r in stored.values()}),
    ])


if __name__ == "__main__":
    main()
