"""Screenshots through the real server: upload over HTTP, attach over Socket.IO, open the
signed link the other side received, with nothing of the phone's metadata left."""

from __future__ import annotations

import io

import requests
from PIL import Image

from tests import images
from tests.contract import check
from tests.e2e.conftest import World


def test_screenshot_from_upload_to_the_operators_screen(world: World) -> None:
    user = world.user("photo-user")
    other = world.user("stranger")
    op = world.operator(["funds"], label="photo-op")
    session = user.open_session("funds", first="出金エラーの画面です")
    op.claim(session["id"])
    op_sock = op.socket()
    op_sock.join(session["id"])

    uploaded = user.api.post("/v1/attachments", files={"file": ("IMG_0042.JPG", images.jpeg_with_gps(), "image/jpeg")})
    assert uploaded.status_code == 201, uploaded.text
    attachment = uploaded.json()
    assert (attachment["content_type"], attachment["width"], attachment["height"]) == ("image/jpeg", 100, 200)

    user_sock = user.socket()
    ack = user_sock.call("message:send", {"session_id": session["id"], "client_msg_id": "shot-1",
                                          "body": "", "attachment_ids": [attachment["id"]]})
    assert ack["ok"] is True and [a["id"] for a in ack["message"]["attachments"]] == [attachment["id"]]
    delivered = op_sock.wait_for("message:new", lambda m: m["client_msg_id"] == "shot-1")[0]
    link = delivered["attachments"][0]

    # The operator's image view loads the signed link with no Authorization header.
    with requests.Session() as browser:
        image = check(browser.get(world.server.url + link["url"], timeout=10))
        thumbnail = check(browser.get(world.server.url + link["thumbnail_url"], timeout=10))
        tampered = check(browser.get(world.server.url + link["url"][:-3] + "AAA", timeout=10))
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/jpeg"
    assert image.headers["X-Content-Type-Options"] == "nosniff" and "private" in image.headers["Cache-Control"]
    assert b"SecretPhoneMaker" not in image.content and b"Exif" not in image.content
    assert Image.open(io.BytesIO(image.content)).size == (100, 200)
    assert thumbnail.status_code == 200 and thumbnail.headers["Content-Type"] == "image/jpeg"
    assert tampered.status_code == 403 and tampered.json()["error"]["code"] == "forbidden"

    # With a token instead: the session's operator yes, another user no.
    assert op.api.get(f"/v1/attachments/{attachment['id']}").status_code == 200
    assert other.api.get(f"/v1/attachments/{attachment['id']}").status_code == 404
    history = user.history(session["id"])
    assert [m["attachments"][0]["sha256"] for m in history if m["attachments"]] == [attachment["sha256"]]


def test_refused_upload_through_the_real_server(world: World) -> None:
    user = world.user("svg-user")
    response = user.api.post("/v1/attachments", files={"file": ("logo.png", images.SVG, "image/png")})
    assert response.status_code == 415 and response.json()["error"]["code"] == "unsupported_media_type"
