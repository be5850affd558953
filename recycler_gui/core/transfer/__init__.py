"""Carry a prompt from one model to another: shared words and the recyclers."""
