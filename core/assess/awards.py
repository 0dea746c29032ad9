"""Awards: a fixed amount to each of the top objects of a composite's ranking, 和平's ¥40,000 a
month to each of the top 6 streets and top 6 bureaus.

An object with any of the award's `barred_by` indicators above zero gets nothing and does not
hold a place: the next eligible object moves up (和平: an owner who neither fixed a problem nor
paid for its takeover loses all award eligibility). Awards go into the result's ledgers, so
bulletins show them and publishing posts them like any other amount.
"""

from collections import defaultdict
from typing import Any

from gridcase.core.profile.taxonomy import label_zh


def award(awards: list[dict[str, Any]], results: list[dict[str, Any]], kinds: dict[str, str | None]) -> None:
    """Give each result its `awards` ({award: amount}) and `barred` (why it lost an award);
    `kinds` maps an object to its unit kind, for awards given per kind."""
    for result in results:
        result["awards"], result["barred"] = {}, []
    for spec in awards:
        groups: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
        for result in results:
            if result["rank"] is None or (result["composite"] or {}).get("code") != spec["composite"]:
                continue
            because = {i: result["values"][i] for i in spec.get("barred_by", []) if result["values"].get(i)}
            if because:
                result["barred"].append({"award": spec["code"], "because": because})
                continue
            groups[kinds.get(result["object"]) if spec.get("per_kind") else None].append(result)
        for members in groups.values():
            # the ranking's own order: the higher final score, then the code
            members.sort(key=lambda r: (-r["final"], r["code"]))
            for result in members[: spec["top"]]:
                result["awards"][spec["code"]] = spec["amount"]
    for result in results:
        for spec in awards:
            result["ledgers"][spec["code"]] = result["awards"].get(spec["code"], 0)


def award_ledgers(awards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The awards as ledger columns of the result (bulletins, snapshots)."""
    return [
        {"code": a["code"], "name": label_zh(a["name"]), "currency": a.get("currency"), "award": True}
        for a in awards
    ]
