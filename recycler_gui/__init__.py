"""Prompt Recycler: carry a trained soft prompt from one language model to another."""

__version__ = "0.1.0"
