"""Soft prompts and the files they live in."""
