"""The user guide's screenshot of a model downloaded by Hub id, taken in a real window (under Xvfb when headless).

    xvfb-run -a -s "-screen 0 1600x1000x24" python packaging/download_screenshot.py

No internet needed: the test suite's local Hub (tests/hub_server.py) serves a tiny random Llama as
``tiny-org/tiny-llama`` over a slowed-down link, into a throw-away HF_HOME. The window gets that id as the source
(downloads allowed), a tiny Gemma as the target and a random prompt; it is photographed mid-download, then the run is
cancelled: docs/guide/06-download.png.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from hub_server import LocalHub  # noqa: E402  (test helpers, found through the path above)

OUT = ROOT / "docs" / "guide" / "06-download.png"
MODEL = "tiny-org/tiny-llama"


def main() -> int:
    scratch = Path(tempfile.mkdtemp(prefix="prompt-recycler-shot-"))
    with LocalHub(chunk_delay=0.4) as hub:
        os.environ.update(HF_ENDPOINT=hub.url, HF_HOME=str(scratch / "hf-home"), HF_HUB_OFFLINE="0")
        import huggingface_hub.constants as constants
        import tiny_models
        import torch
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication

        from recycler_gui.core.prompts.formats import SoftPrompt, write_prompt
        from recycler_gui.gui.main_window import MainWindow
        from recycler_gui.gui.resources import app_icon

        constants.DOWNLOAD_CHUNK_SIZE = 16 * 1024  # progress within a tiny file, as 10 MB chunks give on a real one
        folders = {name: scratch / name for name in ("llama", "gemma")}
        for folder in folders.values():
            folder.mkdir()
        hub.add(MODEL, tiny_models.build_llama(folders["llama"]))
        tiny_models.build_gemma3(folders["gemma"])
        prompt = write_prompt(SoftPrompt(torch.randn(20, 48)), scratch / "prompt.safetensors", "safetensors")

        app = QApplication(sys.argv[:1])
        app.setWindowIcon(app_icon())
        window = MainWindow(QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat))
        window.resize(1600, 1000)
        window.splitter.setSizes([430, 1170])
        window.show()
        inputs = window.inputs
        inputs.download.setChecked(True)
        inputs.source.picker.set_path(MODEL)
        inputs.target.picker.set_path(str(folders["gemma"]))
        inputs.prompt.picker.set_path(str(prompt))
        inputs.device.setCurrentText("cpu")
        wait(lambda: inputs.source.info is not None and inputs.target.info is not None)
        window.start_run()
        wait(lambda: (window.status.tracker.stage_total or 0) > 0
             and window.status.tracker.stage_done > 0.45 * window.status.tracker.stage_total)
        settle(300)
        window.grab().save(str(OUT))
        print(OUT)
        window.cancel_run()
        wait(lambda: not window.running)
        window.close()
    return 0


def settle(milliseconds: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(milliseconds, loop.quit)
    loop.exec()


def wait(condition, seconds: float = 120) -> None:
    for _ in range(int(seconds * 20)):
        if condition():
            return
        settle(50)
    raise TimeoutError("the window did not get there in time")


if __name__ == "__main__":
    sys.exit(main())
