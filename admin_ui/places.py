"""What the pages call a grid: a name, never only its 15-digit code.

A grid's own name when it has one; else the name of the unit it belongs to (a street office, a
community); else, for a unit grid, its parent's name and its number within the parent
(太原街第7社区 003号网格).
"""

from sqlalchemy import Connection, select

from gridcase.core.db.models import Grid, Unit

GRID, UNIT = Grid.__table__, Unit.__table__


def grid_labels(connection: Connection) -> dict[str, str]:
    rows = connection.execute(
        select(GRID.c.code, GRID.c.name, GRID.c.parent, UNIT.c.name.label("unit_name"))
        .select_from(GRID.outerjoin(UNIT, UNIT.c.code == GRID.c.unit))
        .order_by(GRID.c.path)  # a parent before its children
    ).all()
    labels: dict[str, str] = {}
    for code, name, parent, unit_name in rows:
        if name or unit_name:
            labels[code] = name or unit_name
        elif parent in labels and code.startswith(parent):
            labels[code] = f"{labels[parent]} {code[len(parent) :]}号网格"
        else:
            labels[code] = code
    return labels
