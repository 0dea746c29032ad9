"""What every page shares: who is logged in, the navigation their roles see, and errors as
pages (or as an htmx fragment) instead of JSON."""

import re
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from starlette.datastructures import FormData, ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gridcase.admin_ui.render import CATALOGUES, label, language_of, page
from gridcase.core.errors import GridcaseError
from gridcase.core.hotline import orders
from gridcase.core.people.actor import Actor
from gridcase.core.text import check_fields, check_text
from gridcase.core.web.bodies import check_multipart_text
from gridcase.core.web.errors import status_of
from gridcase.core.web.identity import identify


def N_(message: str) -> str:
    """Marks a message for the catalogue; the template translates it when it is shown."""
    return message


# Who may open which page: the navigation and the pages' own checks both read these.
ADMIN = ("admin",)
INTAKE = ("operator", "supervisor", "dispatcher", "shift_leader", "admin", "citizen", "cadre")
DASHBOARD = ("leader", "admin", "shift_leader", "dispatcher", "operator")
RANKINGS = ("leader", "admin", "shift_leader", "dispatcher")
WEIGHTS = ("admin", "leader")
WORKFLOW = ("admin", "leader", "shift_leader", "dispatcher")


def hotline_desk(engine: Any, actor: Actor) -> bool:
    """Whether the person files and returns the 12345 orders that wait (core/hotline/orders.py
    `centre`: the city has the bridge, and one of their roles is its channel's and sees every case)."""
    try:
        orders.centre(engine, actor)
    except GridcaseError:
        return False
    return True


# (path, label, who sees it: roles, an empty tuple for every logged-in person, or a test of the
# deployment and the person)
NAV: tuple[tuple[str, str, tuple[str, ...] | Callable[[Any, Actor], bool]], ...] = (
    ("/ui/queue", N_("待办"), ()),
    ("/ui/cases/new", N_("受理上报"), INTAKE),
    ("/ui/hotline", N_("12345待处理工单"), hotline_desk),
    ("/ui/map", N_("一张图"), ()),
    ("/ui/tracks", N_("巡查轨迹"), DASHBOARD),
    ("/ui/dashboard", N_("综合态势"), DASHBOARD),
    ("/ui/rankings", N_("考核排名"), RANKINGS),
    ("/ui/taxonomy", N_("分类管理"), ADMIN),
    ("/ui/config/units", N_("单位与人员"), ADMIN),
    ("/ui/config/time-limits", N_("时限与日历"), ADMIN),
    ("/ui/config/assessment", N_("考核权重"), WEIGHTS),
    ("/ui/config/workflow", N_("流程图"), WORKFLOW),
    ("/ui/config/outbox", N_("通知记录"), ADMIN),
)


def allowed(actor: Actor, roles: tuple[str, ...]) -> bool:
    return not roles or bool(actor.roles & set(roles))


def ui(roles: tuple[str, ...] = ()) -> Callable:
    """A page for logged-in people with one of `roles` (any role when empty): 403 otherwise."""

    def decorate(handler: Callable[..., Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        @wraps(handler)
        async def endpoint(request: Request) -> Response:
            try:
                actor = await identify(request)
                if actor is None:
                    if request.headers.get("hx-request"):
                        return Response(status_code=401, headers={"HX-Redirect": "/ui/login"})
                    return RedirectResponse(f"/ui/login?next={request.url.path}", status_code=303)
                engine = request.app.state.engine
                request.state.nav = [
                    (path, text)
                    for path, text, who in NAV
                    if (who(engine, actor) if callable(who) else allowed(actor, who))
                ]
                request.state.nav += [
                    (p["path"], p["title"])
                    for p in request.app.state.admin_pages
                    if allowed(actor, tuple(p.get("roles", ())))
                ]
                if not allowed(actor, roles):
                    raise GridcaseError("forbidden", "你的角色不能使用这个页面")
                return await handler(request, actor)
            except GridcaseError as exc:
                return error_page(request, exc)

        return endpoint

    return decorate


async def form_of(request: Request, max_fields: int = 10, max_files: int = 0) -> FormData:
    """The request's form, every field's name and text value (and every file's name) held to
    core/text.py's rule, as the JSON API's are: a 400 naming the field, shown as any error is.
    Every form of the UI is read here, so that none can forget the rule."""
    await check_multipart_text(request)
    try:
        form = await request.form(max_files=max_files, max_fields=max_fields)
    except Exception as exc:  # python-multipart and Starlette raise several kinds
        raise GridcaseError("bad_request", f"表单无法读取: {exc}") from None
    for name, value in form.multi_items():
        if isinstance(value, str):
            check_fields({name: value}, decoded=True)
        else:
            check_text(value.filename, f"{name} (a file's name)")
    return form


async def text_form_of(request: Request, max_fields: int = 10) -> ImmutableMultiDict[str, str]:
    """`form_of` for a form without files: Starlette refuses a file in it (max_files=0), so every
    value is text."""
    form = await form_of(request, max_fields=max_fields)
    return ImmutableMultiDict([(name, value) for name, value in form.multi_items() if isinstance(value, str)])


# What the engine's error codes mean, for people. The engine speaks English (its API's clients
# and the command line read it); a page says the code's meaning in its own language, and where.
ERRORS = {
    "not_found": N_("没有找到要找的内容"),
    "forbidden": N_("你没有权限做这件事"),
    "unauthorized": N_("请先登录"),
    "csrf": N_("页面已过期，请刷新后再提交"),
    "conflict": N_("案件刚被别人更新过，请刷新后再办理"),
    "illegal_transition": N_("案件当前的环节不能办理这个操作，请刷新后查看"),
    "unknown_transition": N_("没有这个操作"),
    "missing_requirements": N_("还缺少必填的内容"),
    "guard_refused": N_("现在还不能办理这个操作"),
    "vetoed": N_("这个操作被拒绝了"),
    "invalid_report": N_("上报的内容有误"),
    "unknown_channel": N_("没有这个来源渠道"),
    "unclassifiable": N_("无法自动判断问题类别，请选择类别"),
    "unknown_category": N_("没有这个问题类别"),
    "category_disabled": N_("这个问题类别已停用"),
    "out_of_area": N_("这个位置不在本市的任何网格内，请检查经纬度"),
    "out_of_grid": N_("这个位置不在你负责的网格内"),
    "unknown_component": N_("没有这个部件"),
    "evidence_too_large": N_("照片太大了"),
    "evidence_empty": N_("照片是空的"),
    "unsupported_media_type": N_("不支持这种文件，请上传照片"),
    "too_large": N_("提交的内容太大了"),
    "invalid_text": N_("内容里有不能保存的字符"),
    "invalid_value": N_("有一个值无法保存"),
    "invalid_setting": N_("设置有误"),
    "invalid_class": N_("分类设置有误"),
    "invalid_field": N_("填写的内容有误"),
    "invalid_request": N_("提交的内容有误"),
    "bad_request": N_("提交的内容有误"),
    "invalid_date": N_("日期写得不对"),
    "invalid_period": N_("期间写得不对"),
    "invalid_role": N_("角色有误"),
    "invalid_unit": N_("没有这个单位"),
    "invalid_grid": N_("没有这个网格"),
    "invalid_username": N_("账号名不符合要求"),
    "invalid_attribute": N_("人员属性写得不对"),
    "weak_password": N_("密码太短：至少要 10 个字符"),
    "inactive": N_("这个账号已停用"),
    "password_change_required": N_("这是管理员设置的临时密码，请先设置自己的密码"),
    "password_reused": N_("新密码不能和原来的密码一样"),
    "unchanged": N_("没有需要保存的修改"),
    "idempotency_key_reused": N_("这张表单已经提交过了，请刷新页面后再填写"),
    "throttled": N_("尝试次数太多，请稍后再试"),
    "rate_limited": N_("提交太频繁，请稍后再试"),
    "unavailable": N_("数据库暂时没有响应，请稍后再试"),
}
UNKNOWN_ERROR = N_("操作没有完成")
COLON = N_("%(a)s：%(b)s")  # a thing, then what is said of it
AND = N_("；")
FIELD_AND_CODES = N_("%(field)s（%(codes)s）")
ROW = N_("第 %(n)s 项")
LIMIT_PLACE = N_("规则 %(rule)s 的时限")
LIMIT_HELP = N_("时限应写成“数量 单位”，例如“3 小时”或“3小时”，单位可以是：%(units)s")
# the fields errors name (a form's field, or the last name of a profile path), as forms label them
FIELDS = {
    "point": N_("位置（经纬度）"),
    "lon": N_("经度"),
    "lat": N_("纬度"),
    "crs": N_("坐标系"),
    "category": N_("问题类别"),
    "standard": N_("立案条件"),
    "standards": N_("立案条件"),
    "item": N_("检查项"),
    "units": N_("派往单位"),
    "reason": N_("意见"),
    "amount": N_("延期时长"),
    "description": N_("问题描述"),
    "address": N_("地址"),
    "contact": N_("来电人"),
    "phone": N_("来电电话"),
    "last_name": N_("来电人姓名"),
    "first_name": N_("来电人姓名"),
    "email": N_("电子邮箱"),
    "limit": N_("时限"),
    "time_limit": N_("处置时限"),
    "condition": N_("立案条件"),
    "code": N_("代码"),
    "name": N_("名称"),
    "terms": N_("考核项"),
    "weight": N_("权重"),
    "photo": N_("照片"),
    "period": N_("期间"),
    "grids": N_("责任网格"),
    "roles": N_("角色"),
    "new_password": N_("新密码"),
    "repeat": N_("再输一次新密码"),
}
# what the engine's checks say is wrong with a value (the profile's schema and cross-checks,
# core/profile), in words a page can show; a message matched by none is told by its code alone
PROBLEMS = (
    (
        re.compile(r"'(.*)' is not valid here: expected an amount of a time-limit unit"),
        N_("“%s”不是有效的时限"),
    ),
    (re.compile(r"unknown time-limit unit '(.*)'"), N_("没有“%s”这个时间单位")),
    (re.compile(r"unknown role ([^;]+)"), N_("没有“%s”这个角色")),
    (re.compile(r"'(.*)' does not match the pattern"), N_("“%s”的写法不对")),
    (re.compile(r"class '(.*)' exists already"), N_("已经有代码为“%s”的小类")),
    (re.compile(r"weights add up to ([0-9.]+), not 1"), N_("权重之和是 %s，应为 1")),
    (re.compile(r"expected (?:a )?number"), N_("应填数字")),
    (re.compile(r"not UTF-8 text"), N_("不是 UTF-8 编码的文字")),
)
# Transition.missing's words (core/profile/workflow.py), read back into what the form asks for
MISSING = (
    (re.compile(r"field '(\w+)' is required"), lambda m: m.group(1)),
    (re.compile(r"a reason is required"), lambda m: "reason"),
    (re.compile(r"evidence of kind '(\w+)' is required"), lambda m: m.group(1)),
)
HAN = re.compile(r"[\u4e00-\u9fff]")
# an English word: not a code with digits (GD2026…, NOPE1), which a Chinese message may quote
LATIN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]+(?![A-Za-z0-9])")


def explain(request: Request, exc: GridcaseError) -> str:
    """The error in the page's language: what is wrong and where. A message the UI wrote in
    Chinese is shown on Chinese pages as it is; an engine's English message by its code (and,
    on English pages, as the engine wrote it), with each field it names and what the engine
    found wrong there, where the UI knows the words for it."""
    translate = CATALOGUES[language_of(request)].gettext
    if _as_written(request, exc):
        return exc.message
    lines = [
        translate(COLON) % {"a": p["field"], "b": p["message"]}
        if p["field"] and p["message"]
        else p["field"] or p["message"]
        for p in problems_of(request, exc, bare=True)
    ]
    detail = translate(AND).join(line for line in lines if line)
    head = translate(ERRORS.get(exc.code, UNKNOWN_ERROR))
    return translate(COLON) % {"a": head, "b": detail} if detail else head


def problems_of(request: Request, exc: GridcaseError, bare: bool = False) -> list[dict[str, str]]:
    """Each place the error names ({field, message}) in the page's language: the field as the
    form labels it, and what is wrong there (the error's meaning where the UI has no words for
    the engine's, unless `bare`)."""
    translate = CATALOGUES[language_of(request)].gettext
    if _as_written(request, exc):
        return [{"field": str(exc.details.get("field") or ""), "message": exc.message}]
    said: dict[str, list[str]] = {}  # each place, and what is wrong there
    for field, message in _items(exc):
        whats = said.setdefault(_place(request, exc, field) if field else "", [])
        whats.append(_problem(translate, message) if message else "")
        if field == "limit" and exc.code == "invalid_setting":
            whats.append(_limit_help(request))
    fallback = "" if bare else translate(ERRORS.get(exc.code, UNKNOWN_ERROR))
    return [
        {"field": where, "message": translate(AND).join(dict.fromkeys(w for w in whats if w)) or fallback}
        for where, whats in said.items()
    ]


def _as_written(request: Request, exc: GridcaseError) -> bool:
    """Whether the message is in the page's language already: the UI's own are Chinese, the
    engine's English (quoting what someone typed, 3小时, does not make them Chinese; quoting a
    code, 没有12345工单NOPE1, does not make a Chinese one English): Chinese characters against
    English words."""
    chinese = len(HAN.findall(exc.message)) > len(LATIN.findall(exc.message))
    return (language_of(request) == "zh") == chinese


def _items(exc: GridcaseError) -> list[tuple[str | None, str | None]]:
    """(field, the engine's words about it) for each place the error names."""
    details: dict[str, Any] = exc.details or {}
    problems = [p for p in details.get("problems") or [] if isinstance(p, dict)]
    if problems:
        return [(str(p.get("field") or "") or None, str(p.get("message") or "")) for p in problems]
    missing: list[tuple[str | None, str | None]] = []
    for text in details.get("missing") or []:
        for pattern, field in MISSING:
            found = pattern.match(str(text))
            if found:
                missing.append((field(found), None))
    if missing:
        return missing
    return [(details["field"] if isinstance(details.get("field"), str) else None, exc.message)]


def _problem(translate: Callable[[str], str], message: str) -> str:
    for pattern, words in PROBLEMS:
        match = pattern.search(message)
        if match:
            said = translate(words)
            return said % match.group(1).strip() if match.groups() else said
    return ""


def _place(request: Request, exc: GridcaseError, path: str) -> str:
    """A field's name, from a form's field or a profile's path ('terms[valid].weight',
    'standards/0/time_limit'): the last name the UI knows, with the codes and rows on the way
    after the section's name."""
    translate = CATALOGUES[language_of(request)].gettext
    if path == "limit" and exc.code == "invalid_setting":  # a rule's limit, on the time-limits page
        return translate(LIMIT_PLACE) % {"rule": request.url.path.rstrip("/").rsplit("/", 1)[-1]}
    parts = [p for p in re.split(r"[./\[\]]+", path) if p]
    named = [i for i, p in enumerate(parts) if p in FIELDS]
    if not named:
        return path
    last = named[-1]
    codes = [
        translate(ROW) % {"n": int(p) + 1} if p.isdigit() else p for p in parts[1:last] if p not in FIELDS
    ]
    field = translate(FIELDS[parts[last]])
    return translate(FIELD_AND_CODES) % {"field": field, "codes": "、".join(codes)} if codes else field


def _limit_help(request: Request) -> str:
    """A time limit is an amount and a unit's code: the message lists the profile's units."""
    engine = request.app.state.engine
    language = language_of(request)
    units = engine.profile.get("time_limits", {}).get("units", [])
    named = "、".join(f"{label(u.get('name'), language)} {u['code']}" for u in units)
    return CATALOGUES[language].gettext(LIMIT_HELP) % {"units": named}


def error_page(request: Request, exc: GridcaseError) -> Response:
    if exc.code == "unchanged" and request.headers.get("hx-request"):
        # the same save again (a double click): the first one's answer stands, nothing to say
        return Response(status_code=204)
    status = status_of(exc.code)
    context = {"error": exc, "status": status, "message": explain(request, exc)}
    if request.headers.get("hx-request"):
        # htmx swaps only 2xx answers by default; the message goes to the page's error area
        response = page(request, "error.html", context, block="message", status=status)
        response.headers["HX-Retarget"] = "#errors"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return page(request, "error.html", context, status=status)


@ui()
async def not_found(request: Request, actor: Actor) -> Response:
    """A path under /ui that is no page: a page that says so, not the API's JSON."""
    raise GridcaseError("not_found", "没有这个页面")
