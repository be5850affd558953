"""The documentation stays true to the code: the error-message catalogue is regenerated and compared."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_error_catalogue_lists_every_message_in_the_code() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "packaging" / "list_errors.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_messages_that_start_and_end_with_a_value_are_listed_but_re_raises_are_not() -> None:
    catalogue = (ROOT / "docs" / "ERRORS.md").read_text(encoding="utf-8")
    assert "| AmbiguousKeyError | ‹path› holds several tensors that could be the prompt: ‹_describe_keys› |" in (
        catalogue)
    assert "| TaskError | ‹problem› |" not in catalogue  # `raise TaskError(error.problem, ...)` adds no message


def test_the_user_guide_shows_only_screenshots_that_exist() -> None:
    guide = (ROOT / "docs" / "USER_GUIDE.md").read_text(encoding="utf-8")
    images = [line.split("](", 1)[1].split(")", 1)[0] for line in guide.splitlines() if line.startswith("![")]
    assert len(images) >= 5
    for image in images:
        assert (ROOT / "docs" / image).is_file(), image
