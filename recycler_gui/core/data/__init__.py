"""Labelled tasks and the texts prompts are scored on."""
