"""Start a GUI command and report how long its main window takes to appear (X11, e.g. under xvfb-run).

    xvfb-run -a python packaging/startup_time.py dist/prompt-recycler/prompt-recycler-gui [--runs 3]

Polls `xwininfo -root -tree` for a window titled "Prompt Recycler", then closes the program.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def time_once(command: list[str], timeout: float) -> float:
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while time.perf_counter() - started < timeout:
            tree = subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True).stdout
            if '"Prompt Recycler"' in tree:
                return time.perf_counter() - started
            if process.poll() is not None:
                raise SystemExit(f"the program exited with {process.returncode}: {process.stderr.read().decode()}")
            time.sleep(0.05)
        raise SystemExit(f"no window after {timeout:.0f} s")
    finally:
        process.terminate()
        process.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="+")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    if shutil.which("xwininfo") is None:
        print("xwininfo is needed (apt-get install x11-utils)", file=sys.stderr)
        return 1
    times = [time_once(args.command, args.timeout) for _ in range(args.runs)]
    print(f"window shown after {statistics.median(times):.2f} s (median of {len(times)}: "
          f"{', '.join(f'{t:.2f}' for t in times)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
