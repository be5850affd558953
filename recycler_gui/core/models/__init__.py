"""Model references: open a checkpoint, fetch the demo models."""
