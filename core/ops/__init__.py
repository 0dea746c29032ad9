"""Operating a deployment: backups and their restore (backup.py), and the retention windows
that purge what is no longer kept (retention.py)."""
