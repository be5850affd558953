"""What progress says, in the terminal and the window alike: done of total, a rate for downloads, the time left."""

from __future__ import annotations

from recycler_gui.core.events import BYTES, Stage, describe_progress


def test_a_download_shows_megabytes_its_rate_and_the_time_left() -> None:
    stage = Stage("downloading org/model", 538_000_000, BYTES)
    assert describe_progress(stage, 12_300_000, 3.0) == "12.3 of 538.0 MB, 4.1 MB/s, 2 min left"


def test_a_small_download_shows_kilobytes() -> None:
    stage = Stage("downloading tiny-org/tiny", 274_000, BYTES)
    assert describe_progress(stage, 137_000, 2.0) == "137.0 of 274.0 kB, 68.5 kB/s, 2 s left"


def test_steps_show_counts_and_the_time_left() -> None:
    assert describe_progress(Stage("scoring", 200), 40, 3.0) == "40 of 200, 12 s left"
    assert describe_progress(Stage("tuning", 1000), 10, 120.0) == "10 of 1000, 3 h 18 min left"


def test_nothing_is_guessed_before_the_first_step() -> None:
    assert describe_progress(Stage("scoring", 200), 0, 0.0) == "0 of 200"
    assert describe_progress(Stage("downloading", None, BYTES), 5_000_000, 0.0) == "5.0 MB"


def test_the_terminal_bar_shows_a_download_in_megabytes() -> None:
    import io

    from recycler_gui.cli.common import TerminalEvents
    from recycler_gui.core.events import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    events = TerminalEvents(terminal)
    events(Stage("downloading org/model (3 files, 538.0 MB)", 538_000_000, BYTES))
    events(Progress(269_000_000))
    lines = terminal.getvalue().split("\r")
    assert lines[0] == "» downloading org/model (3 files, 538.0 MB)\n"
    assert lines[1].startswith("  [###############...............] 269.0 of 538.0 MB, ")
    assert " MB/s, " in lines[1] and " left" in lines[1]
