"""Train prompt rows on a frozen model."""
