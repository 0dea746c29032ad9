"""Why a row counted: one sentence per case, in the profile's language and time zone."""

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from gridcase.core.durations import format_minutes


def _at(moment: datetime | None, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else "—"


def reason(
    fact: dict[str, Any], row: Mapping[Any, Any], names: dict[str, str], tz: tzinfo, end: datetime
) -> str:
    """`names` maps stage and transition codes to their display names."""
    if "clock" in fact:
        return _clock_reason(fact, row, names, tz, end)
    if "event" in fact:
        text = f"{names.get(row['transition'], row['transition'])} {_at(row['at'], tz)}"
        return f"{text}：{row['reason']}" if row.get("reason") else text
    kind = "重复上报" if row["duplicate"] else "上报"
    return f"{kind} {_at(row['received_at'], tz)}（{row['channel']}）"


def _clock_reason(fact, row, names, tz, end) -> str:
    stage = names.get(row["stage"], row["stage"])
    parts = [f"{stage}：开始 {_at(row['started_at'], tz)}，时限 {_at(row['deadline'], tz)}"]
    if row["extended"]:
        parts.append(f"延期 {row['extended']} 次")
    stopped, deadline = row["stopped_at"], row["deadline"]
    if stopped is not None and stopped < end:
        by = names.get(row["stopped_by"], row["stopped_by"] or "—")
        parts.append(f"{by} {_at(stopped, tz)}")
        if deadline is not None:
            late = (stopped - deadline).total_seconds() / 60
            parts.append(f"超期 {format_minutes(late)}" if late > 0 else "按期")
    elif row["paused_at"] is not None and row["paused_at"] < end:
        parts.append(f"挂账中（自 {_at(row['paused_at'], tz)}）")
    elif deadline is not None and deadline < end:
        parts.append(f"期末未完成，已超期 {format_minutes((end - deadline).total_seconds() / 60)}")
    else:
        parts.append("期末未完成")
    return "，".join(parts)
