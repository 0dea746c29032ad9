"""Time limits (时限): clocks, calendars, deadlines, lights and the sweep."""
