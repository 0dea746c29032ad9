"""An administrator sees the login throttles on 单位与人员 and clears one, so a colleague locked
out by their own typing (or by a shared office address) can try again at once."""

from gridcase.core.errors import GridcaseError
from gridcase.core.people.accounts import log_in
from gridcase.core.people.throttle import NAME_FREE, listing

OFFICE = "10.0.0.8"


def test_an_administrator_sees_and_clears_a_login_throttle_in_the_ui(ui):
    engine = ui.engine
    for _ in range(NAME_FREE + 1):
        try:
            log_in(engine.db, "water", "not the password", OFFICE, engine.time.now())
        except GridcaseError:
            pass
    admin = ui("admin")
    page = admin.get("/ui/config/units").text
    assert "登录限制" in page and f"<td>{OFFICE}</td><td>water</td>" in page
    assert ui("water").post("/ui/config/throttles/clear", data={"address": OFFICE}).status_code in (
        401,
        403,
        303,
    )
    cleared = admin.post("/ui/config/throttles/clear", data={"address": OFFICE, "username": "water"})
    assert cleared.status_code == 204
    assert listing(engine.db, engine.time.now()) == []
    assert "没有受限的登录" in admin.get("/ui/config/units").text
    assert admin.post("/ui/config/throttles/clear", data={}).status_code == 422  # name one of them
