"""Notifications: the outbox every notice goes through, its senders' interface and templates
(outbox.py), and the once-a-day schedule that digests and bulletins claim (schedule.py)."""
