"""禅城 (Chancheng, Foshan): 一门式, 即办 and the five-level grid (seed 004)."""
