"""Patrols: what the handsets of the people who walk the grids tell the centre of where they went
(track.py). Above cases, places and sla, which it reads; nothing of the core below reads it."""
