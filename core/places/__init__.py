"""Places: the city's geography and its organisation.

Grids and their index for locating points (grids.py, gridindex.py, grid_check.py, geojson.py,
geo.py), components (部件, components.py), units and their command relations (units.py), the
territories of tenant platforms (tenancy.py), and reconciling all of these with the profile
(reconcile.py). Below the stages that use them: intake, cases, sla, assess.
"""
