"""The engine: plain Python and torch, no Qt. The GUI and the CLI are thin shells over it."""
