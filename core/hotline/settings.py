"""The profile's `hotline:` section and `notifications.citizens`, typed, with their defaults
written once (core/schemas/hotline.json and profile.json say what each means)."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

STEPS = ("sign", "return", "extension", "progress", "done")
DEFAULT_ANSWERS = {
    "sign": ("accept", "send_verify"),
    "return": ("reject",),
    "extension": ("request_extension",),
    "progress": ("dispatch", "sign", "handle", "rework", "check_pass"),
    "done": ("close",),
}
# what each step is called on the platform, for the texts people read in the outbox
STEP_NAMES = {
    "sign": "签收",
    "return": "退单",
    "extension": "延期申请",
    "progress": "办理进展",
    "done": "办结",
}


@dataclass(frozen=True)
class HotlineSettings:
    channel: str
    sender: str
    return_within: timedelta
    steps: dict[str, str]  # transition code: the step it answers
    photos_from: frozenset[str]
    reopen: str
    categories: dict[str, dict[str, Any]]  # the platform's code: {class, kind}

    @classmethod
    def of(cls, profile: dict[str, Any]) -> "HotlineSettings | None":
        block = profile.get("hotline")
        if not block:
            return None
        answers = {**DEFAULT_ANSWERS, **{k: tuple(v) for k, v in (block.get("answers") or {}).items()}}
        return cls(
            channel=block["channel"],
            sender=block.get("sender", "hotline"),
            return_within=timedelta(minutes=block.get("return_within", 120)),
            steps={code: step for step in STEPS for code in answers[step]},
            photos_from=frozenset(block.get("photos_from", ("handle", "check_pass"))),
            reopen=block.get("reopen", "reopen"),
            categories={str(c["code"]): c for c in block.get("categories") or ()},
        )


@dataclass(frozen=True)
class CitizenNotices:
    channel: str
    states: frozenset[str] | None  # None: every state
    templates: dict[str, str]
    survey: str  # the survey's link as the case closes (public.survey.sms)

    DEFAULT = "【{city}】您反映的问题（编号{number}）{state}。凭查询码{token}可随时查看办理情况。"
    SURVEY = (
        "【{city}】您反映的问题（编号{number}）已办结，请在{days}天内评价办理结果：{link}（查询码{token}）"
    )

    @classmethod
    def of(cls, profile: dict[str, Any]) -> "CitizenNotices | None":
        block = (profile.get("notifications") or {}).get("citizens")
        if block is None:
            return None
        states = block.get("states")
        return cls(
            channel=block.get("channel", "sms"),
            states=frozenset(states) if states is not None else None,
            templates={"default": cls.DEFAULT, **(block.get("templates") or {})},
            survey=block.get("survey", cls.SURVEY),
        )

    def template(self, state: str) -> str:
        return self.templates.get(state) or self.templates["default"]
