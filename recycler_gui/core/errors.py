"""Errors the user can act on: each names the problem and the fix.

The CLI prints ``str(error)`` as one line and exits with code 2; the GUI shows it in a dialog. Anything that is not a
``RecyclerError`` is a bug in Prompt Recycler, not a bad input.
"""

from __future__ import annotations


class RecyclerError(Exception):
    """Base class: a problem with what the user gave us, and what to do about it."""

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem.rstrip(".")
        fix = fix.rstrip(".")
        self.fix = fix[:1].upper() + fix[1:]
        super().__init__(f"{self.problem}. {self.fix}." if self.fix else f"{self.problem}.")


class InputNotFoundError(RecyclerError):
    """A path the user named does not exist."""


class CorruptFileError(RecyclerError):
    """A file exists but cannot be read: damaged, truncated or not what its name says."""


class UnknownFormatError(RecyclerError):
    """A file whose content matches none of the formats we read."""


class NotPromptTuningError(RecyclerError):
    """A PEFT adapter of another kind (LoRA, prefix tuning, ...)."""


class PromptShapeError(RecyclerError):
    """A prompt tensor of the wrong rank, row count or width."""


class PromptValueError(RecyclerError):
    """A prompt tensor with a non-float dtype or with NaN / Inf values."""


class AmbiguousKeyError(RecyclerError):
    """A weights file holding several candidate prompt tensors and no ``--key`` to choose."""


class SettingsError(RecyclerError):
    """A setting of the wrong type or out of its range, from a flag, a job file or the window."""


class UnreadableInputError(RecyclerError):
    """A file or folder the user named exists but cannot be read: no permission, or a failing disk."""


class OverwriteError(RecyclerError):
    """A write that would replace the user's input, or a file we did not write."""


class WriteError(RecyclerError):
    """An output that cannot be written: no permission, a read-only or full disk, a file where a folder belongs."""


class CheckpointError(RecyclerError):
    """A model folder or file that is incomplete: no config, truncated weights, missing embedding table."""


class TokenizerMissingError(RecyclerError):
    """A checkpoint without a loadable tokenizer."""


class UnsupportedArchitectureError(RecyclerError):
    """A model we cannot prompt: encoder-only models and architectures transformers does not know."""


class ModelNotCachedError(RecyclerError):
    """A model id that is not in the local Hugging Face cache while downloads are off (the default)."""


class HubModelNotFoundError(RecyclerError):
    """A model id the Hugging Face Hub does not know (or keeps private from this account)."""


class HubAccessError(RecyclerError):
    """A model the Hub will not hand out without a login: gated (terms to accept) or refused (401/403)."""


class HubUnreachableError(RecyclerError):
    """The Hub cannot be reached, or downloads are switched off (HF_HUB_OFFLINE)."""


class OutOfMemoryError(RecyclerError):
    """The device ran out of memory."""


def is_out_of_memory(error: BaseException) -> bool:
    """True for Python's ``MemoryError`` and torch's out-of-memory errors (CPU, CUDA, MPS), which both shells turn
    into one line of advice. Matched by class name, so that this module does not import torch."""
    return isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError"
