"""One comparison run end to end, and the stored history of runs."""
