"""A workflow as a layered state diagram, laid out here from the profile so that it reads the
same every time (a force layout drew sixteen states and forty edges as a knot).

A case's usual course (the longest way from the initial state to a closed one) runs straight
across the middle; the other states sit above and below it, a column after the state they
come from, and the closed states off the course (不予立案, 作废) in a row of their own below.
Transitions between the same two states share one arrow, labelled with all their names. A
transition that leaves the case where it is (督办, 回访, 答复 …) is no arrow: it is listed with
the states it can be taken in.
"""

from typing import Any

from gridcase.admin_ui.render import label

COLUMN, ROW = 170, 110  # the distance between columns and between rows, in the chart's units


def _moves(spec: dict[str, Any]) -> dict[str, list[str]]:
    """state → the states its transitions lead to (not those that leave the case where it is)."""
    moves: dict[str, list[str]] = {s["code"]: [] for s in spec["states"]}
    for t in spec.get("transitions", []):
        for source in t.get("from", []):
            target = t.get("to")
            if target and target != source and source in moves and target not in moves[source]:
                moves[source].append(target)
    return moves


def _main_line(spec: dict[str, Any], moves: dict[str, list[str]]) -> list[str]:
    """The longest way without a loop from the initial state to a closed one: the case's usual
    course (上报, 核实, 立案, 派遣 … 结案), drawn straight across the middle."""
    closed = {s["code"] for s in spec["states"] if s["kind"] != "open"}
    start = spec.get("initial") or spec["states"][0]["code"]
    order = {s["code"]: i for i, s in enumerate(spec["states"])}
    best: list[str] = [start]
    path = [start]

    def walk(state: str) -> None:
        nonlocal best
        if state in closed:
            # of two as long, the one ending in the state the profile lists first (已结案)
            if best[-1] not in closed or (len(path), -order[state]) > (len(best), -order[best[-1]]):
                best = list(path)
            return
        for target in moves[state]:
            if target not in path:
                path.append(target)
                walk(target)
                path.pop()

    walk(start)
    return best


def _positions(spec: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """(column, row) of each state: the main line on row 0; a state off it one column after
    the first placed state it comes from, above or below the line, nearest first; a closed
    state off the line (不予立案, 作废) in a row of its own below, under its sources' middle."""
    moves = _moves(spec)
    main = _main_line(spec, moves)
    closed = {s["code"] for s in spec["states"] if s["kind"] != "open"}
    sources: dict[str, list[str]] = {code: [] for code in moves}
    for source, targets in moves.items():
        for target in targets:
            sources[target].append(source)
    at: dict[str, tuple[int, int]] = {code: (i, 0) for i, code in enumerate(main)}
    taken = set(at.values())
    rows = [-1, 1, -2, 2, -3, 3, -4, 4]
    waiting = [s["code"] for s in spec["states"] if s["code"] not in at and s["code"] not in closed]
    while waiting:
        ready = [c for c in waiting if any(s in at for s in sources[c])] or waiting[:1]
        for code in ready:
            near = [at[s] for s in sources[code] if s in at]
            column = min(c for c, _ in near) + 1 if near else 0
            side = next((r for _, r in near if r), 0)  # the side of the line its source is on
            ordered = sorted(rows, key=lambda r: (side * r < 0, abs(r)))
            row = next((r for r in ordered if (column, r) not in taken), len(taken))
            at[code] = (column, row)
            taken.add(at[code])
            waiting.remove(code)
    bottom = max((r for _, r in at.values()), default=0) + 1
    for code in (s["code"] for s in spec["states"] if s["code"] not in at):
        placed = [at[s][0] for s in sources[code] if s in at]
        column = round(sum(placed) / len(placed)) if placed else 0
        while (column, bottom) in taken:
            column += 1
        at[code] = (column, bottom)
        taken.add(at[code])
    return at


def graph(spec: dict[str, Any], language: str, role_names: dict[str, Any]) -> dict[str, Any]:
    """The ECharts graph of one workflow: nodes with fixed positions, arrows, in-place actions."""
    names = {s["code"]: label(s.get("name"), language) or s["code"] for s in spec["states"]}
    placed = _positions(spec)
    arrows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    in_place: dict[str, list[str]] = {}
    for t in spec.get("transitions", []):
        for source in t.get("from", []):
            target = t.get("to") or source
            if target == source:
                in_place.setdefault(label(t.get("name"), language) or t["code"], []).append(names[source])
            else:
                arrows.setdefault((source, target), []).append(t)
    links = []
    labelled: set[tuple[str, str]] = set()  # (target, name): 作废 from seven stages is named once
    for (source, target), transitions in arrows.items():
        title = " / ".join(label(t.get("name"), language) or t["code"] for t in transitions)
        roles = sorted(
            {label(role_names.get(r), language) or r for t in transitions for r in t.get("roles", [])}
        )
        (x0, y0), (x1, y1) = placed[source], placed[target]
        # an arrow back, or one of a pair, bends so that the two do not lie on each other
        bends = (x1 <= x0 and y1 == y0) or (target, source) in arrows
        links.append(
            {
                "source": source,
                "target": target,
                "value": title,
                "roles": "、".join(roles),
                "lineStyle": {"curveness": 0.3 if bends else 0},
                "label": {"show": (target, title) not in labelled},
            }
        )
        labelled.add((target, title))
    nodes = [
        {
            "name": s["code"],
            "value": names[s["code"]],
            "x": placed[s["code"]][0] * COLUMN,
            "y": placed[s["code"]][1] * ROW,
            "category": 0 if s["code"] == spec.get("initial") else (1 if s["kind"] == "open" else 2),
        }
        for s in spec["states"]
    ]
    return {
        "code": spec["code"],
        "name": label(spec.get("name"), language),
        "nodes": nodes,
        "links": links,
        "in_place": sorted(in_place.items()),
    }
