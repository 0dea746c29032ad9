"""Built-in classification: the minor class whose names, aliases and keywords the text mentions.

Longer matches count for more, so "暴露垃圾" beats "垃圾". A city with a better classifier
returns its own answer from `classify_case` first.
"""

from typing import Any

from gridcase.core.context import Classification, HookContext, IncomingReport
from gridcase.core.hookspecs import hookimpl
from gridcase.core.profile.taxonomy import active_minors, label_zh


def _terms(minor: dict[str, Any]) -> list[str]:
    return [
        t for t in [label_zh(minor.get("name")), *minor.get("aliases", []), *minor.get("keywords", [])] if t
    ]


@hookimpl
def classify_case(ctx: HookContext, report: IncomingReport) -> Classification | None:
    text = " ".join(t for t in (report.description, report.address) if t)
    if not text.strip():
        return None
    best: tuple[int, str, str, list[str]] | None = None
    for kind, code, minor in active_minors(ctx.profile.plain):
        if minor.get("enabled") is False:
            continue
        hits = [t for t in _terms(minor) if t in text]
        score = sum(len(t) for t in hits)
        if score and (best is None or score > best[0]):
            best = (score, kind, code, hits)
    if best is None:
        return None
    score, kind, code, hits = best
    return {
        "code": code,
        "kind": "component" if kind == "component" else "event",
        "confidence": round(min(1.0, score / 6), 2),
        "explanation": f"文本提及 {'、'.join(hits)} (text mentions {', '.join(hits)})",
    }
