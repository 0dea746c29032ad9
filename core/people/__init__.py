"""People: who acts (actor.py), accounts, passwords, tokens and sessions (accounts.py), login
throttling (throttle.py) and the roster an integrator imports (roster.py)."""
