"""The operator console (`/console/`) in headless Chromium against the real server process.

A Python user client (REST + Socket.IO, as the mobile app) talks to an operator who works only
through the page: the queue updates live, claim / reply / notes / canned replies go through the
UI, the page survives a server restart, message bodies render as text, and axe-core finds no
serious or critical violation. See tests/e2e/browser.py for the browser driver.

Set SUPPORT_API_SCREENSHOTS=docs to save the screenshots the README shows.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from support_api.lib.auth import Role
from tests import images
from tests.dbutil import fresh_database
from tests.e2e.browser import Browser
from tests.e2e.conftest import (
    ServerProcess,
    World,
    free_port,
    server_env,
    uid,
    wait_until,
    world_on,
)

SCREENSHOTS = os.environ.get("SUPPORT_API_SCREENSHOTS")
XSS = "<img src=x onerror=alert(1)>"


class Restartable:
    """A server whose process can be stopped and started again on the same port and database."""

    def __init__(self, url: str, var_dir: Path) -> None:
        var_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        # The long-history test writes 70 messages at once.
        self.env = server_env(url, var_dir, extra_env={"SUPPORT_API_RATE_LIMIT_MESSAGES": "1000/minute"})
        self.var_dir = var_dir
        self.process = self._start()

    def _start(self) -> ServerProcess:
        process = ServerProcess(self.env, self.var_dir / f"server-{self.port}-{time.monotonic_ns()}.log", self.port)
        process.wait_ready()
        return process

    def stop(self) -> None:
        self.process.stop()

    def start(self) -> None:
        self.process = self._start()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Restartable]:
    # The pages are the same whatever the database: SQLite keeps this module light.
    with fresh_database("sqlite") as url:
        server = Restartable(url, tmp_path_factory.mktemp("console"))
        try:
            yield server
        finally:
            server.process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    b = Browser()
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def world(site: Restartable) -> Iterator[World]:
    with world_on(site.process) as w:
        yield w


@pytest.fixture
def page(browser: Browser) -> Iterator[str]:
    """A fresh page (own context: own sessionStorage); fails the test on a script error or CSP refusal."""
    name = uid("page")
    yield name
    if os.environ.get("SUPPORT_API_TEST_DEBUG_SHOTS"):
        browser("screenshot", page=name, path=f"/tmp/{name}.png")
    problems = browser("problems", page=name)
    browser("closePage", page=name)
    assert not problems, problems


def open_console(browser: Browser, page: str, server: ServerProcess, token: str, path: str = "/console/",
                 locale: str = "en-US") -> None:
    browser("open", page=page, url=f"{server.url}{path}#token={token}", locale=locale)


def queue_item(browser: Browser, page: str, text: str, timeout: float = 10_000) -> None:
    browser("wait", page=page, selector="ul#queue button", hasText=text, timeout=timeout)


def log_texts(browser: Browser, page: str) -> list[str]:
    texts: list[str] = browser("texts", page=page, selector="[role=log] .msg .msg-body")
    return texts


def wait_in_log(browser: Browser, page: str, text: str, timeout: float = 10_000) -> None:
    browser("wait", page=page, selector="[role=log] .msg", hasText=text, timeout=timeout)


def shot(browser: Browser, page: str, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        browser("screenshot", page=page, path=str(Path(SCREENSHOTS).resolve() / name))


def open_and_claim(browser: Browser, page: str, world: World, first: str,
                   department: str = "funds") -> tuple[Any, Any, dict[str, Any], Any]:
    """A user opens a chat (funds by default); the operator claims it through the console."""
    op = world.operator([department], label="sato")
    user = world.user("hanako")
    user_sock = user.socket()
    open_console(browser, page, world.server, op.token)
    browser("wait", page=page, selector="ul#queue li")
    session = user.open_session(department, first=first)
    user_sock.join(session["id"])
    queue_item(browser, page, "Hanako")
    browser("click", page=page, selector=f"ul#queue button[data-session='{session['id']}']")
    wait_in_log(browser, page, first)
    browser("click", page=page, role="button", name="Claim")
    user_sock.wait_for("message:new", lambda m: m["sender"]["type"] == "system")
    browser("wait", page=page, selector=".chat-state", hasText="Held by Sato")
    return op, user, session, user_sock


def test_new_chat_appears_in_the_queue_live_and_the_reply_reaches_the_user(browser: Browser, page: str,
                                                                            world: World) -> None:
    op = world.operator(["funds"], label="sato")
    user = world.user("hanako")
    earlier = user.open_session("funds", first="先週の問い合わせ")
    assert user.api.post(f"/v1/sessions/{earlier['id']}/close").status_code == 200
    assert user.api.post(f"/v1/sessions/{earlier['id']}/rating", json={"score": 4}).status_code == 201
    open_console(browser, page, world.server, op.token)
    browser("wait", page=page, role="list", name="Queue")
    browser("wait", page=page, selector="ul#queue li.empty")
    user_sock = user.socket()

    session = user.open_session("funds", first="出金がまだ届いていません", client_context={
        "app_version": "5.12.0", "os": "iOS 18.1", "device_model": "iPhone15,2", "locale": "ja-JP", "error_code": "E-4012"})
    opened = time.monotonic()
    queue_item(browser, page, "Hanako", timeout=2_000)  # no reload: within 2 s of the open
    assert time.monotonic() - opened < 2.0
    user_sock.join(session["id"])

    browser("click", page=page, selector=f"ul#queue button[data-session='{session['id']}']")
    wait_in_log(browser, page, "出金がまだ届いていません")
    browser("wait", page=page, role="log", name="Messages")
    # The customer panel: the app's context and the earlier chat with its rating.
    browser("wait", page=page, selector="#customer dd", hasText="E-4012")
    assert "iPhone15,2" in browser("texts", page=page, selector="#customer dd")
    browser("wait", page=page, selector="#history li", hasText="rated 4/5")
    shot(browser, page, "console-queue.png")
    browser("click", page=page, role="button", name="Claim")
    joined = user_sock.wait_for("message:new", lambda m: m["sender"]["type"] == "system")
    assert "Sato" in joined[0]["body"]
    # The chat moved from the queue to "my chats".
    browser("wait", page=page, selector="ul#mine button", hasText="Hanako")
    browser("wait", page=page, selector="ul#queue li.empty")

    browser("fill", page=page, role="textbox", name="Reply", text="確認いたします。少々お待ちください。")
    browser("press", page=page, role="textbox", name="Reply", key="Enter")
    reply = user_sock.wait_for("message:new", lambda m: m["sender"]["type"] == "operator")[0]
    assert reply["body"] == "確認いたします。少々お待ちください。"
    assert reply["sender"]["id"] == op.id
    # The box clears when the ack arrives, which can be after the user already has the message:
    # the reply in the operator's own log is added in the same step, so wait for it first.
    wait_in_log(browser, page, "確認いたします")
    assert browser("value", page=page, role="textbox", name="Reply") == ""

    # Shift+Enter is a new line, the Send button sends.
    browser("type", page=page, role="textbox", name="Reply", text="一行目")
    browser("press", page=page, role="textbox", name="Reply", key="Shift+Enter")
    browser("type", page=page, role="textbox", name="Reply", text="二行目")
    browser("click", page=page, role="button", name="Send")
    second = user_sock.wait_for("message:new", lambda m: m["body"].startswith("一行目"))[0]
    assert second["body"] == "一行目\n二行目"

    # The user's answer arrives live, and the typing indicator shows before it.
    user_sock.call("typing", {"session_id": session["id"], "is_typing": True})
    browser("wait", page=page, selector=".typing", hasText="Hanako is typing")
    user_sock.send(session["id"], "ありがとうございます")
    wait_in_log(browser, page, "ありがとうございます")
    shot(browser, page, "console.png")

    browser("click", page=page, role="button", name="Close chat")
    closed = user_sock.wait_for("session:updated", lambda s: s["status"] == "closed")
    assert closed[0]["id"] == session["id"]
    browser("wait", page=page, selector=".chat-state", hasText="Closed")


def test_screenshot_and_text_from_the_user_show_and_bodies_render_as_text(browser: Browser, page: str,
                                                                          world: World) -> None:
    _op, user, session, user_sock = open_and_claim(browser, page, world, "画面を送ります")
    upload = user.api.post("/v1/attachments", files={"file": ("screen.png", images.png(320, 200), "image/png")})
    assert upload.status_code == 201, upload.text
    ack = user_sock.call("message:send", {"session_id": session["id"], "client_msg_id": uid("cm"),
                                           "body": "エラー E-4012 の画面です", "attachment_ids": [upload.json()["id"]]})
    assert ack["ok"], ack
    wait_in_log(browser, page, "エラー E-4012 の画面です")
    browser("wait", page=page, selector="[role=log] .msg a.msg-attachment img")
    # The thumbnail really loaded (signed URL, same origin), and links to the full image.
    wait_until(lambda: browser("evaluate", page=page, expression=(
        "(() => { const i = document.querySelector('[role=log] a.msg-attachment img');"
        " return !!i && i.complete && i.naturalWidth > 0; })()")), what="thumbnail loaded")
    href = browser("attr", page=page, selector="[role=log] a.msg-attachment", attr="href")
    assert href.startswith(f"/v1/attachments/{upload.json()['id']}?")
    full = requests.get(world.server.url + href, timeout=10)
    assert full.status_code == 200 and full.headers["Content-Type"] == "image/png"

    user_sock.send(session["id"], XSS)
    wait_in_log(browser, page, XSS)
    assert XSS in log_texts(browser, page)
    assert browser("count", page=page, selector="[role=log] img[src='x']") == 0
    assert browser("count", page=page, selector="[role=log] img") == 1
    # The page's own fixture check fails the test on any script error; alert() would not run either.


def test_canned_reply_is_inserted_with_slash(browser: Browser, page: str, world: World) -> None:
    admin = world.server.token(uid("admin"), Role.ADMIN, name="Admin")
    admin_api = world.api(admin)
    title = f"入金反映 {uid('t')}"
    created = admin_api.post("/v1/canned-replies", json={
        "title": title, "body": "{user_name}様、入金の反映を確認いたします。", "locale": "ja", "department": "funds"})
    assert created.status_code == 201, created.text
    _op, _user, _session, user_sock = open_and_claim(browser, page, world, "入金が反映されません")

    browser("type", page=page, role="textbox", name="Reply", text="/反映")
    browser("wait", page=page, selector="#canned [role=option]", hasText=title)
    assert browser("attr", page=page, role="textbox", name="Reply", attr="aria-activedescendant") == "canned-0"
    shot(browser, page, "console-canned.png")
    browser("press", page=page, role="textbox", name="Reply", key="Enter")
    assert browser("value", page=page, role="textbox", name="Reply") == "Hanako様、入金の反映を確認いたします。"
    browser("press", page=page, role="textbox", name="Reply", key="Enter")
    sent = user_sock.wait_for("message:new", lambda m: m["sender"]["type"] == "operator")[0]
    assert sent["body"] == "Hanako様、入金の反映を確認いたします。"

    # A partial match on the body works too.
    browser("type", page=page, role="textbox", name="Reply", text="/確認いたし")
    browser("wait", page=page, selector="#canned [role=option]", hasText=title)
    browser("press", page=page, role="textbox", name="Reply", key="Escape")
    assert browser("count", page=page, selector="#canned:not([hidden])") == 0


def test_internal_note_stays_with_staff(browser: Browser, page: str, world: World) -> None:
    _op, user, session, user_sock = open_and_claim(browser, page, world, "口座を確認してください")
    colleague = world.operator(["funds"], label="kato")
    colleague_sock = colleague.socket()
    note = f"社内メモ: 本人確認が必要 {uid('n')}"
    browser("check", page=page, label="Internal note (staff only)")
    browser("fill", page=page, role="textbox", name="Reply", text=note)
    browser("click", page=page, role="button", name="Send")
    browser("wait", page=page, selector="[role=log] .msg.msg-note", hasText=note)
    assert colleague_sock.wait_for("note:new", lambda n: n["body"] == note)

    # A public reply after the note: once it reached the user, the note would have too.
    browser("check", page=page, label="Internal note (staff only)", checked=False)
    browser("fill", page=page, role="textbox", name="Reply", text="確認します")
    browser("press", page=page, role="textbox", name="Reply", key="Enter")
    user_sock.wait_for("message:new", lambda m: m["body"] == "確認します")
    seen = [data for _, data in user_sock.events]
    assert note not in repr(seen)
    assert note not in repr(user.history(session["id"]))
    shot(browser, page, "console-note.png")


def test_server_restart_mid_chat_needs_no_reload(browser: Browser, page: str, world: World,
                                                 site: Restartable) -> None:
    _op, user, session, user_sock = open_and_claim(browser, page, world, "再起動の前")
    user_sock.close()
    # The user also has the demo app open on this chat: it resumes the newest chat.
    demo = f"{page}-demo"
    browser("open", page=demo, url=f"{world.server.url}/demo/#token={user.token}")
    browser("wait", page=demo, selector="#chat-status", hasText="Sato is helping you")
    wait_in_log(browser, demo, "再起動の前")
    site.stop()
    browser("wait", page=page, selector="#conn-banner.down", hasText="Connection lost")
    browser("wait", page=demo, selector=".banner.down", hasText="Connection lost")
    shot(browser, page, "console-offline.png")
    site.start()
    world.server = site.process  # the new process, for the end-of-test log check
    world.servers = (site.process,)
    world._log_starts = {id(site.process): 0}
    browser("wait", page=page, selector="#conn-banner", hasText="Reconnected", timeout=15_000)
    user.post_message(session["id"], "再起動の後のメッセージ")
    wait_in_log(browser, page, "再起動の後のメッセージ")
    # Still the same page: the earlier messages are there, nothing was reloaded.
    assert "再起動の前" in log_texts(browser, page)
    browser("fill", page=page, role="textbox", name="Reply", text="届きました")
    browser("press", page=page, role="textbox", name="Reply", key="Enter")
    wait_until(lambda: any(m["body"] == "届きました" for m in user.history(session["id"])), what="reply stored")
    # The demo app re-joined after the restart: the message sent meanwhile and the reply are there.
    wait_in_log(browser, demo, "再起動の後のメッセージ")
    wait_in_log(browser, demo, "届きました")
    assert browser("problems", page=demo) == []
    browser("closePage", page=demo)


def test_guard_refusal_is_shown_inline_and_the_draft_stays(browser: Browser, page: str, world: World) -> None:
    _op, _user, _session, _user_sock = open_and_claim(browser, page, world, "ログインできません")
    draft = "パスワードを教えてください"
    browser("fill", page=page, role="textbox", name="Reply", text=draft)
    browser("press", page=page, role="textbox", name="Reply", key="Enter")
    browser("wait", page=page, selector=".form-error", hasText="Not sent")
    assert browser("value", page=page, role="textbox", name="Reply") == draft


def test_expired_token_asks_for_a_new_one(browser: Browser, page: str, world: World) -> None:
    token = world.server.token(uid("op"), Role.OPERATOR, name="Short", ttl_seconds=5)
    open_console(browser, page, world.server, token)
    browser("wait", page=page, role="list", name="Queue")
    browser("wait", page=page, selector="[role=alert]", hasText="Your token has expired", timeout=12_000)
    browser("wait", page=page, role="textbox", name="Access token")
    # The token never stays in the address bar.
    assert "token" not in browser("evaluate", page=page, expression="location.href")


def test_japanese_names_and_headers(browser: Browser, page: str, world: World) -> None:
    op = world.operator(["funds"], label="sato")
    response = requests.get(f"{world.server.url}/console/", timeout=10)
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    token = world.server.token(op.id, Role.OPERATOR, name="佐藤", departments=["funds"])
    user = world.user("taro")
    session = user.open_session("funds", first="こんにちは")
    browser("open", page=page, url=f"{world.server.url}/console/#token={token}", locale="ja-JP")
    browser("wait", page=page, role="list", name="待ち行列")
    browser("click", page=page, selector=f"ul#queue button[data-session='{session['id']}']")
    for role, name in (("textbox", "返信"), ("button", "送信"), ("button", "担当する"), ("button", "転送"),
                       ("button", "チャットを終了"), ("log", "メッセージ")):
        browser("wait", page=page, role=role, name=name)
    assert browser("evaluate", page=page, expression="document.documentElement.lang") == "ja"
    assert_accessible(browser, page, "/console/ in Japanese")
    # The queue's waiting times are redrawn every 5 s without taking the keyboard focus away.
    browser("evaluate", page=page, expression=f"document.querySelector(\"ul#queue button[data-session='{session['id']}']\").focus()")
    time.sleep(5.5)
    assert browser("evaluate", page=page, expression="document.activeElement.dataset.session") == session["id"]


def assert_accessible(browser: Browser, page: str, what: str) -> None:
    violations = browser("axe", page=page)
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, f"{what}: {bad}"


def test_axe_finds_no_serious_violations(browser: Browser, page: str, world: World) -> None:
    op, _user, session, user_sock = open_and_claim(browser, page, world, "アクセシビリティ")
    user_sock.send(session["id"], "メッセージ")
    wait_in_log(browser, page, "メッセージ")
    assert_accessible(browser, page, "/console/ with a chat open")
    browser("type", page=page, role="textbox", name="Reply", text="/")
    browser("wait", page=page, selector="#canned [role=option]")
    assert_accessible(browser, page, "/console/ with the canned-reply list open")
    # The status switch goes through PUT /operators/me/status.
    browser("select", page=page, role="combobox", name="My status", value="away")
    wait_until(lambda: any(o["id"] == op.id and o["chosen_status"] == "away"
                           for o in op.api.get("/v1/operators").json()["items"]), what="status away")

    admin = world.server.token(uid("admin"), Role.ADMIN, name="Admin")
    browser("open", page=page, url=f"{world.server.url}/console/stats#token={admin}")
    browser("wait", page=page, selector="canvas#chart-hourly")
    browser("wait", page=page, selector="tbody tr", hasText="Sato")
    assert "Away" in " ".join(browser("texts", page=page, selector="tbody tr"))
    # The charts draw the figures of GET /admin/stats.
    stats = world.api(admin).get("/v1/admin/stats").json()
    opened = browser("evaluate", page=page, expression=(
        "Chart.getChart(document.getElementById('chart-opened')).data.datasets[0].data"))
    assert opened == [d["sessions_opened"] for d in stats["departments"]] and sum(opened) >= 1
    hourly = browser("evaluate", page=page, expression=(
        "Chart.getChart(document.getElementById('chart-hourly')).data.datasets.map(d => d.data.reduce((a, b) => a + b, 0))"))
    assert sum(hourly) == sum(opened)  # every chat of this module was opened within the last 12 hours
    assert_accessible(browser, page, "/console/stats")
    shot(browser, page, "console-stats.png")

    demo_user = world.user("demo")
    browser("open", page=page, url=f"{world.server.url}/demo/#token={demo_user.token}")
    browser("wait", page=page, role="button", name="Start chat")
    assert_accessible(browser, page, "/demo/ (pick a category)")

    browser("evaluate", page=page, expression="sessionStorage.clear()")
    browser("open", page=page, url=f"{world.server.url}/console/")
    browser("wait", page=page, role="textbox", name="Access token")
    assert_accessible(browser, page, "/console/ sign-in")
    # The paste box signs in too.
    browser("fill", page=page, role="textbox", name="Access token", text=op.token)
    browser("click", page=page, role="button", name="Sign in")
    browser("wait", page=page, role="list", name="Queue")
    # No token in any request line the server logged.
    assert op.token not in world.server.log_text() and admin not in world.server.log_text()


def test_demo_app_flow(browser: Browser, page: str, world: World) -> None:
    user = world.user("demo")
    op = world.operator(["account"], label="ito")
    op_sock = op.socket()
    browser("open", page=page, url=f"{world.server.url}/demo/#token={user.token}")
    browser("check", page=page, label="Account")
    browser("fill", page=page, label="Your message", text="ログインできません")
    browser("click", page=page, role="button", name="Start chat")
    browser("wait", page=page, selector="#chat-status", hasText="number 1 in the queue")
    sessions = op.api.get("/v1/sessions", params={"status": "waiting", "category": "account"}).json()["items"]
    session = next(s for s in sessions if s["user_id"] == user.id)
    assert session["client_context"]["app_version"] == "demo-web"
    shot(browser, page, "demo.png")

    op.claim(session["id"])
    op_sock.join(session["id"])
    browser("wait", page=page, selector="#chat-status", hasText="Ito is helping you")
    op_sock.send(session["id"], "お手伝いします")
    wait_in_log(browser, page, "お手伝いします")

    screenshot = Path(browser_tmp(world)) / "screen.png"
    screenshot.write_bytes(images.png(300, 200))
    browser("fill", page=page, role="textbox", name="Message", text="画面です")
    browser("files", page=page, selector="input#attach", path=str(screenshot))
    got = op_sock.wait_for("message:new", lambda m: m["sender"]["type"] == "user" and m["attachments"])[0]
    assert got["body"] == "画面です" and got["attachments"][0]["width"] == 300
    browser("wait", page=page, selector="[role=log] a.msg-attachment img")

    browser("fill", page=page, role="textbox", name="Message", text="ありがとう")
    browser("press", page=page, role="textbox", name="Message", key="Enter")
    op_sock.wait_for("message:new", lambda m: m["body"] == "ありがとう")

    closed = op.api.post(f"/v1/sessions/{session['id']}/close")
    assert closed.status_code == 200
    browser("wait", page=page, role="button", name="Send rating")
    assert_accessible(browser, page, "/demo/ rating form")
    browser("check", page=page, label="5 of 5")
    browser("fill", page=page, label="Comment (optional)", text="助かりました")
    browser("click", page=page, role="button", name="Send rating")
    browser("wait", page=page, selector="[role=status]", hasText="Thank you")
    rated = user.api.get(f"/v1/sessions/{session['id']}").json()
    assert rated["rating"]["score"] == 5 and rated["rating"]["comment"] == "助かりました"


def browser_tmp(world: World) -> str:
    path = Path(world.server.settings.var_dir) / "browser-files"
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


# Records desktop notifications instead of showing them (injected before the page's scripts).
RECORD_NOTIFICATIONS = """
window.__notifications = [];
window.Notification = class { constructor(title, options) { window.__notifications.push(options.body); }
  static get permission() { return "granted"; } static requestPermission() { return Promise.resolve("granted"); } };
"""


def test_alerts_unread_title_transfer_and_shortcuts(browser: Browser, page: str, world: World) -> None:
    browser("prepare", page=page, script=RECORD_NOTIFICATIONS)
    # Trading: a queue no other test of this module fills, so `j` has a known next chat.
    op, _user, session, user_sock = open_and_claim(browser, page, world, "最初の問い合わせ", department="trading")
    browser("check", page=page, label="Desktop notifications")
    browser("evaluate", page=page, expression="window.focus()")

    # A new waiting chat in the operator's department: notified while the tab has the focus.
    other = world.user("jiro")
    waiting = other.open_session("trading", first="もう一件")
    queue_item(browser, page, "Jiro")
    wait_until(lambda: any("New chat waiting" in n for n in browser("evaluate", page=page, expression="window.__notifications")),
               what="new-chat notification")

    # `j` moves to the next chat (the waiting one); a message in the held chat is then unread:
    # counted in the title and notified.
    browser("evaluate", page=page, expression="document.activeElement.blur()")
    browser("press", page=page, selector="body", key="j")
    wait_in_log(browser, page, "もう一件")
    user_sock.send(session["id"], "まだですか？")
    wait_until(lambda: browser("title", page=page).startswith("(1) "), what="unread count in the title")
    browser("wait", page=page, selector="ul#mine .unread", hasText="1 unread")
    wait_until(lambda: any("New message from Hanako" in n
                           for n in browser("evaluate", page=page, expression="window.__notifications")),
               what="new-message notification")
    # `c` claims the chat on screen.
    browser("press", page=page, selector="body", key="c")
    browser("wait", page=page, selector=".chat-state", hasText="Held by Sato")
    assert op.api.get(f"/v1/sessions/{waiting['id']}").json()["operator"]["id"] == op.id
    # Back with `k` (claiming put the focus in the reply box); reading it clears the count.
    browser("evaluate", page=page, expression="document.activeElement.blur()")
    browser("press", page=page, selector="body", key="k")
    wait_in_log(browser, page, "まだですか？")
    wait_until(lambda: not browser("title", page=page).startswith("("), what="title without unread count")

    # Transfer to the security department with a note, through the dialog.
    security_op = world.operator(["security"], label="mori")
    security_sock = security_op.socket()
    browser("click", page=page, role="button", name="Transfer")
    browser("select", page=page, label="Department", value="security")
    browser("fill", page=page, label="Note for the next operator", text="不正ログインの疑い")
    browser("click", page=page, role="button", name="Move chat")
    moved = security_sock.wait_for("session:updated", lambda s: s["id"] == session["id"] and s["department"] == "security")
    assert moved[0]["status"] == "waiting"
    notes = security_op.api.get(f"/v1/sessions/{session['id']}/notes").json()["items"]
    assert [n["body"] for n in notes] == ["不正ログインの疑い"]
    user_sock.wait_for("message:new", lambda m: m["sender"]["type"] == "system" and m["seq"] > 2)
    assert "不正ログインの疑い" not in repr(user_sock.events)


def test_long_history_scrolls_back_and_shows_the_read_receipt(browser: Browser, page: str, world: World) -> None:
    _op, user, session, user_sock = open_and_claim(browser, page, world, "履歴 1")
    for n in range(2, 71):
        user.post_message(session["id"], f"履歴 {n}")
    browser("click", page=page, selector="ul#mine button", hasText="Hanako")
    # Reopening the chat starts near the end; the first message needs "Load earlier messages".
    browser("evaluate", page=page, expression="location.reload()")
    browser("click", page=page, selector="ul#mine button", hasText="Hanako")
    wait_in_log(browser, page, "履歴 70")
    assert "履歴 1" not in log_texts(browser, page)
    browser("click", page=page, role="button", name="Load earlier messages")
    wait_in_log(browser, page, "履歴 1")
    seqs = [int(s) for s in browser("evaluate", page=page, expression=(
        "[...document.querySelectorAll('[role=log] .msg[data-seq]')].map(e => e.dataset.seq)"))]
    assert seqs == list(range(1, 72))  # 70 user messages and the "joined" message, in order, once each

    browser("fill", page=page, role="textbox", name="Reply", text="全部読みました")
    browser("press", page=page, role="textbox", name="Reply", key="Enter")
    reply = user_sock.wait_for("message:new", lambda m: m["body"] == "全部読みました")[0]
    user_sock.call("session:read", {"session_id": session["id"], "seq": reply["seq"]})
    browser("wait", page=page, selector=f"[role=log] .msg.receipt[data-seq='{reply['seq']}']")
    browser("wait", page=page, selector=".receipt-line", hasText="Seen by the user")


def test_expiring_token_is_renewed_in_place(browser: Browser, page: str, world: World) -> None:
    sub = uid("op")
    short = world.server.token(sub, Role.OPERATOR, name="Renew", departments=["other"], ttl_seconds=8)
    open_console(browser, page, world.server, short)
    browser("wait", page=page, role="list", name="Queue")
    # Less than a minute left: the page asks for a new token without leaving the console.
    browser("wait", page=page, selector="#renew [role=alert]", hasText="expires in a minute")
    fresh = world.server.token(sub, Role.OPERATOR, name="Renew", departments=["other"], ttl_seconds=3600)
    browser("fill", page=page, role="textbox", name="Access token", text=fresh)
    browser("click", page=page, role="button", name="Use new token")
    browser("wait", page=page, selector="#renew", state="attached")
    assert browser("count", page=page, selector="#renew form") == 0
    assert browser("evaluate", page=page, expression="sessionStorage.getItem('support_api.token')") == fresh
    time.sleep(8.5)  # the first token has expired by now
    # Still signed in, and the socket (reconnected with the new token) still brings new chats.
    user = world.user("late")
    user.open_session("other", first="期限切れの後")
    queue_item(browser, page, "Late")
    assert browser("count", page=page, selector="#token-input") == 0


def test_the_chat_header_shows_who_else_is_viewing(browser: Browser, page: str, world: World) -> None:
    """Collision detection: another operator (a Python socket) opens the chat shown in the
    page; the header names them, and forgets them when they leave. The user hears nothing."""
    sato = world.operator(["funds"], label="sato")
    suzuki = world.operator(["funds"], label="suzuki")
    user = world.user("hanako")
    user_sock = user.socket()
    session = user.open_session("funds", first="is anyone looking at this?")
    user_sock.join(session["id"])
    open_console(browser, page, world.server, sato.token)
    queue_item(browser, page, "Hanako")
    browser("click", page=page, selector=f"ul#queue button[data-session='{session['id']}']")
    wait_in_log(browser, page, "is anyone looking at this?")
    # Alone on the chat: the (always present) status region says nothing.
    assert browser("texts", page=page, selector="#viewers") == [""]

    other = suzuki.socket()
    other.join(session["id"])
    browser("wait", page=page, selector="[role=status]#viewers", hasText="Also viewing: Suzuki", timeout=10_000)
    assert browser("texts", page=page, selector=".chat-head #viewers") == ["Also viewing: Suzuki"]
    # Sato's own name never appears there, though the server's list names Sato too.
    assert other.wait_for("session:viewers", lambda p: {v["id"] for v in p["viewers"]} == {sato.id, suzuki.id})

    assert other.call("session:leave", {"session_id": session["id"]})["ok"] is True
    browser("wait", page=page, selector="#viewers", hasText="Suzuki", state="detached", timeout=10_000)
    assert browser("texts", page=page, selector="#viewers") == [""]
    assert not user_sock.received("session:viewers")
