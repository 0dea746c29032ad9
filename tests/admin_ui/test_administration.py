"""单位与人员 as a centre's administrator uses it, in a real browser on a bundled city: a
supervisor is given their grids by name, a forgotten password is reset (the password the
administrator gives is temporary: the person chooses their own at the next login), a name that
failed too many logins is unlocked, a person who left is deactivated (and can neither log in nor
be given grids) and comes back; every change is in the audit log with who made it. A person
changes their own password from the header."""

import re

from playwright.sync_api import expect
from sqlalchemy import select

from gridcase.core.db.connection import read
from gridcase.core.db.models import Responsibility
from gridcase.core.people import administration
from gridcase.core.people.accounts import set_password

from . import city_browser
from .city_browser import STREET, log_in, needs_chromium, screenshot
from .conftest import PASSWORD

# the served bundled city, one a module and backend (city_browser.py)
city, chromium = city_browser.city, city_browser.chromium

pytestmark = needs_chromium
RESPONSIBILITY = Responsibility.__table__
OWN = "worker-own-2027"  # the password the worker chooses after the second reset


def grids_of(engine, person: str) -> list[str]:
    from gridcase.core.db.models import Person

    person_table = Person.__table__
    with read(engine.db) as connection:
        return sorted(
            connection.execute(
                select(RESPONSIBILITY.c.grid)
                .join(person_table, person_table.c.id == RESPONSIBILITY.c.person_id)
                .where(person_table.c.username == person)
            ).scalars()
        )


def panel(page, username: str):
    row = page.locator(f'tr[data-username="{username}"]')
    details = row.locator("details.manage")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    return row


def try_login(browser, base: str, name: str, password: str) -> bool:
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base}/ui/login")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    logged_in = page.url.endswith("/ui/queue")
    context.close()
    return logged_in


def choose_own(browser, base: str, name: str, temporary: str, own: str, again: str | None = None):
    """A login with a temporary password, which asks for the person's own: a page on the queue
    once it is chosen, or on the form with its error."""
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{base}/ui/login")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(temporary)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="修改密码")).to_be_visible()
    expect(page.locator("p.hint")).to_contain_text("管理员为你设置的是临时密码")
    page.get_by_label("临时密码").fill(temporary)
    page.get_by_label("新密码（至少 10 个字符）").fill(own)
    page.get_by_label("再输一次新密码").fill(own if again is None else again)
    page.get_by_role("button", name="保存新密码").click()
    page.wait_for_load_state()
    return page


def test_an_administrator_assigns_grids_resets_unlocks_and_deactivates(city, chromium):
    base, engine = city.base, city.engine
    admin = log_in(chromium, base, "admin")
    admin.get_by_role("link", name="单位与人员").click()

    # grids by name: the street office's grid and one unit grid, typed as the page lists them
    row = panel(admin, "worker")
    field = row.get_by_label(re.compile("责任网格"))
    field.fill("太原街街道办事处, 不存在的网格")
    row.get_by_role("button", name="保存网格").click()
    expect(admin.locator("#errors")).to_contain_text("没有网格“不存在的网格”")
    assert grids_of(engine, "worker") == []
    row = panel(admin, "worker")
    row.get_by_label(re.compile("责任网格")).fill("太原街街道办事处, 210102002")
    row.get_by_role("button", name="保存网格").click()
    expect(admin.get_by_role("status")).to_contain_text("已保存责任网格")
    assert grids_of(engine, "worker") == [STREET, "210102002"]
    row = admin.locator('tr[data-username="worker"]')
    expect(row.locator("td.grids")).to_contain_text("太原街街道办事处")
    expect(row.locator("td.grids")).to_contain_text("南市场街道办事处")
    assert "210102002" not in row.locator("td.grids").inner_text()  # names, not codes

    # a password reset: the old one stops working, the generated one (shown once) works
    worker = log_in(chromium, base, "worker")
    row = panel(admin, "worker")
    row.get_by_role("button", name="重置密码").click()
    new_password = admin.locator("code.password").inner_text()
    assert len(new_password) >= 10
    worker.reload()
    assert "/ui/login" in worker.url  # the reset ended the session
    assert not try_login(chromium, base, "worker", PASSWORD)
    # the generated one is temporary: it lets the worker in only to choose their own
    assert not try_login(chromium, base, "worker", new_password)
    mistyped = choose_own(chromium, base, "worker", new_password, "worker-own-2026", "worker-own-2O26")
    expect(mistyped.locator("p.error")).to_have_text("两次输入的新密码不一样")
    reused = choose_own(chromium, base, "worker", new_password, new_password)
    expect(reused.locator("p.error")).to_have_text("新密码不能和原来的密码一样")
    chosen = choose_own(chromium, base, "worker", new_password, "worker-own-2026")
    chosen.wait_for_url("**/ui/queue")
    assert try_login(chromium, base, "worker", "worker-own-2026")
    assert not try_login(chromium, base, "worker", new_password)
    admin.reload()
    assert admin.locator("code.password").count() == 0  # shown once only
    # a temporary password the administrator chose, too short, is refused in Chinese
    row = panel(admin, "worker")
    row.get_by_label(re.compile("临时密码")).fill("short")
    row.get_by_label(re.compile("临时密码")).evaluate("e => e.removeAttribute('minlength')")
    row.get_by_role("button", name="重置密码").click()
    expect(admin.locator("#errors")).to_contain_text("密码至少要 10 个字符")
    row = panel(admin, "worker")
    row.get_by_label(re.compile("临时密码")).fill("temporary-2026")
    row.get_by_role("button", name="重置密码").click()
    expect(admin.locator("code.password")).to_have_text("temporary-2026")
    choose_own(chromium, base, "worker", "temporary-2026", OWN).wait_for_url("**/ui/queue")

    # locked out by failed logins (the clock stands still, so the wait never ends), then unlocked
    for _ in range(6):
        try_login(chromium, base, "worker", "wrong password!")
    assert not try_login(chromium, base, "worker", OWN)
    admin.reload()
    row = admin.locator('tr[data-username="worker"]')
    expect(row).to_contain_text("登录受限")
    row = panel(admin, "worker")
    row.get_by_role("button", name="解锁登录").click()
    expect(admin.get_by_role("status")).to_contain_text("已解锁")
    assert try_login(chromium, base, "worker", OWN)

    # deactivated: the session ends, no login, no grids; then reactivated
    worker = log_in(chromium, base, "worker", OWN)
    admin.once("dialog", lambda dialog: dialog.accept())
    row = panel(admin, "worker")
    row.get_by_role("button", name="停用").click()
    expect(admin.get_by_role("status")).to_contain_text("已停用")
    expect(admin.locator('tr[data-username="worker"]')).to_contain_text("已停用")
    worker.reload()
    assert "/ui/login" in worker.url
    assert not try_login(chromium, base, "worker", OWN)
    row = panel(admin, "worker")
    expect(row.get_by_role("button", name="保存网格")).to_be_disabled()
    csrf = admin.locator("input[name=csrf_token]").first.input_value()
    refused = admin.request.post(
        f"{base}/ui/config/people/worker/grids",
        form={"grids": "210102003"},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert refused.status == 422 and "已停用" in refused.text()
    row.get_by_role("button", name="启用").click()
    expect(admin.get_by_role("status")).to_contain_text("已启用")
    assert try_login(chromium, base, "worker", OWN)

    # an administrator cannot deactivate themself
    row = panel(admin, "admin")
    admin.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="停用").click()
    expect(admin.locator("#errors")).to_contain_text("你不能停用自己")

    # the audit log: who did what to whom, newest first; never a password
    log = admin.locator("table.audit")
    admin.reload()
    text = log.inner_text()
    for done in (
        "责任网格",
        "重置密码（自动生成）",
        "重置密码（临时密码）",
        "本人设置了新密码",
        "解锁登录",
        "停用",
        "启用",
    ):
        assert done in text, done
    assert not any(p in text for p in (new_password, "temporary-2026", "worker-own-2026", OWN))
    changes = administration.history(engine.db)
    # the worker's own choices are theirs; everything else the administrator's
    assert {c["changed_by"] for c in changes if c["changes"] == {"password": "changed"}} == {"worker"}
    assert {c["changed_by"] for c in changes if c["changes"] != {"password": "changed"}} == {"admin"}
    assert {tuple(c["changes"]) for c in changes} >= {
        ("grids",),
        ("password",),
        ("failed_logins",),
        ("active",),
    }
    row = panel(admin, "worker")
    screenshot(admin, "people-administration", full_page=False)


def test_a_person_changes_their_own_password_and_their_other_sessions_end(city, chromium):
    base = city.base
    elsewhere = log_in(chromium, base, "leader")  # the leader's phone, say
    page = log_in(chromium, base, "leader")
    page.get_by_role("link", name="修改密码").click()
    expect(page.get_by_role("heading", name="修改密码")).to_be_visible()
    expect(page.locator("form[action='/ui/password']")).to_contain_text("leader")
    page.get_by_label("当前密码").fill("not my password")
    page.get_by_label("新密码（至少 10 个字符）").fill("leader-own-2026")
    page.get_by_label("再输一次新密码").fill("leader-own-2026")
    page.get_by_role("button", name="保存新密码").click()
    expect(page.locator("p.error")).to_have_text("当前密码不对")
    page.get_by_label("当前密码").fill(PASSWORD)
    page.get_by_label("新密码（至少 10 个字符）").fill("short")
    page.get_by_label("再输一次新密码").fill("short")
    for field in ("新密码（至少 10 个字符）", "再输一次新密码"):  # past the browser's own check
        page.get_by_label(field).evaluate("e => e.removeAttribute('minlength')")
    page.get_by_role("button", name="保存新密码").click()
    expect(page.locator("p.error")).to_contain_text("密码太短：至少要 10 个字符")
    page.get_by_label("当前密码").fill(PASSWORD)
    page.get_by_label("新密码（至少 10 个字符）").fill("leader-own-2026")
    page.get_by_label("再输一次新密码").fill("leader-own-2026")
    page.get_by_role("button", name="保存新密码").click()
    page.wait_for_url("**/ui/queue")  # still logged in, on a new session
    expect(page.get_by_role("link", name="修改密码")).to_be_visible()
    elsewhere.reload()
    assert "/ui/login" in elsewhere.url  # whoever knew the old password is out
    assert not try_login(chromium, base, "leader", PASSWORD)
    assert try_login(chromium, base, "leader", "leader-own-2026")
    set_password(city.engine.db, "leader", PASSWORD)  # as the module's other tests log in
