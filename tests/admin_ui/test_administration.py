"""单位与人员 as a centre's administrator uses it, in a real browser on a bundled city: a
supervisor is given their grids by name, a forgotten password is reset, a name that failed too
many logins is unlocked, a person who left is deactivated (and can neither log in nor be given
grids) and comes back; every change is in the audit log with who made it."""

import re

from playwright.sync_api import expect
from sqlalchemy import select

from gridcase.core.db.connection import read
from gridcase.core.db.models import Responsibility
from gridcase.core.people import administration

from . import city_browser
from .city_browser import STREET, log_in, needs_chromium, screenshot
from .conftest import PASSWORD

# the served bundled city, one a module and backend (city_browser.py)
city, chromium = city_browser.city, city_browser.chromium

pytestmark = needs_chromium
RESPONSIBILITY = Responsibility.__table__


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
    assert try_login(chromium, base, "worker", new_password)
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

    # locked out by failed logins (the clock stands still, so the wait never ends), then unlocked
    for _ in range(6):
        try_login(chromium, base, "worker", "wrong password!")
    assert not try_login(chromium, base, "worker", "temporary-2026")
    admin.reload()
    row = admin.locator('tr[data-username="worker"]')
    expect(row).to_contain_text("登录受限")
    row = panel(admin, "worker")
    row.get_by_role("button", name="解锁登录").click()
    expect(admin.get_by_role("status")).to_contain_text("已解锁")
    assert try_login(chromium, base, "worker", "temporary-2026")

    # deactivated: the session ends, no login, no grids; then reactivated
    worker = log_in(chromium, base, "worker", "temporary-2026")
    admin.once("dialog", lambda dialog: dialog.accept())
    row = panel(admin, "worker")
    row.get_by_role("button", name="停用").click()
    expect(admin.get_by_role("status")).to_contain_text("已停用")
    expect(admin.locator('tr[data-username="worker"]')).to_contain_text("已停用")
    worker.reload()
    assert "/ui/login" in worker.url
    assert not try_login(chromium, base, "worker", "temporary-2026")
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
    assert try_login(chromium, base, "worker", "temporary-2026")

    # an administrator cannot deactivate themself
    row = panel(admin, "admin")
    admin.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="停用").click()
    expect(admin.locator("#errors")).to_contain_text("你不能停用自己")

    # the audit log: who did what to whom, newest first; never a password
    log = admin.locator("table.audit")
    admin.reload()
    text = log.inner_text()
    for done in ("责任网格", "重置密码（自动生成）", "重置密码（临时密码）", "解锁登录", "停用", "启用"):
        assert done in text, done
    assert new_password not in text and "temporary-2026" not in text
    changes = administration.history(engine.db)
    assert [c["changed_by"] for c in changes] == ["admin"] * len(changes)
    assert {tuple(c["changes"]) for c in changes} >= {
        ("grids",),
        ("password",),
        ("failed_logins",),
        ("active",),
    }
    if city.backend == "sqlite":
        row = panel(admin, "worker")
        screenshot(admin, "people-administration", full_page=False)
