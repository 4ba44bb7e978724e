"""Screenshot attachments: upload, sanitising, claiming, access and signed URLs."""

from __future__ import annotations

import io
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import func, select

from support_api.services.attachments import cleanup_unclaimed
from support_api.models import Attachment
from tests import images
from tests.conftest import Api

OpenSession = Callable[..., dict[str, Any]]


def upload(api: Api, token: str, data: bytes, name: str = "screenshot.png", field: str = "file",
           content_type: str = "image/png") -> Any:
    return api.post("/attachments", token, data={field: (io.BytesIO(data), name, content_type)},
                    content_type="multipart/form-data")


def stored_files(app: Flask) -> list[Path]:
    root: Path = app.extensions["support_api"].settings.upload_dir
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def attachment_rows(app: Flask) -> int:
    with app.extensions["support_api"].db.read() as db:
        count: int = db.execute(select(func.count()).select_from(Attachment)).scalar_one()
        return count


def fetch(api: Api, url: str, token: str | None = None) -> Any:
    """GET an attachment URL as given in a response (path and signed query)."""
    parts = urlsplit(url)
    assert parts.path.startswith("/v1/")
    return api.get(parts.path[3:] + (f"?{parts.query}" if parts.query else ""), token)


@pytest.fixture
def active(api: Api, operator: str, open_session: OpenSession) -> str:
    sid: str = open_session("funds")["id"]
    api.post(f"/sessions/{sid}/claim", operator)
    return sid


def test_upload_then_view_by_uploader_only(api: Api, app: Flask, user: str, other_user: str, operator: str) -> None:
    response = upload(api, user, images.png(64, 48))
    assert response.status_code == 201
    attachment = response.get_json()
    assert (attachment["content_type"], attachment["width"], attachment["height"]) == ("image/png", 64, 48)
    assert attachment["id"].startswith("att_") and len(attachment["sha256"]) == 64
    own = api.get(f"/attachments/{attachment['id']}", user)
    assert own.status_code == 200 and own.mimetype == "image/png"
    assert own.headers["X-Content-Type-Options"] == "nosniff"
    assert own.headers["Content-Disposition"] == f'inline; filename="{attachment["id"]}.png"'
    assert own.headers["Cache-Control"].startswith("private")
    assert len(own.data) == attachment["size"]
    thumb = api.get(f"/attachments/{attachment['id']}/thumbnail", user)
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    # Before a message claims it, nobody else can see it.
    assert api.get(f"/attachments/{attachment['id']}", other_user).status_code == 404
    assert api.get(f"/attachments/{attachment['id']}", operator).status_code == 404
    assert api.get(f"/attachments/{attachment['id']}").status_code == 401
    assert len(stored_files(app)) == 2 and attachment_rows(app) == 1


def test_claimed_attachment_is_seen_by_the_session_only(api: Api, user: str, other_user: str, operator: str,
                                                        active: str) -> None:
    attachment = upload(api, user, images.png()).get_json()
    sent = api.post(f"/sessions/{active}/messages", user,
                    json={"client_msg_id": "c1", "body": "エラー画面です", "attachment_ids": [attachment["id"]]})
    assert sent.status_code == 201
    message = sent.get_json()
    assert [a["id"] for a in message["attachments"]] == [attachment["id"]]
    assert api.get(f"/attachments/{attachment['id']}", operator).status_code == 200
    funds_colleague = api.token("op-9", "operator", departments=["funds"])
    assert api.get(f"/attachments/{attachment['id']}", funds_colleague).status_code == 200
    outsider = api.token("op-sec", "operator", departments=["security"])
    assert api.get(f"/attachments/{attachment['id']}", outsider).status_code == 404
    assert api.get(f"/attachments/{attachment['id']}", other_user).status_code == 404
    history = api.get(f"/sessions/{active}/messages", operator).get_json()["items"]
    assert (history[0]["sender"]["type"], history[0]["attachments"]) == ("system", [])  # the claim's "joined"
    assert history[1]["attachments"][0]["sha256"] == attachment["sha256"]


def _unsigned(message: dict[str, Any]) -> dict[str, Any]:
    """A message with its attachments' signed URLs cut to their paths."""
    return {**message, "attachments": [
        {**a, "url": a["url"].split("?")[0], "thumbnail_url": a["thumbnail_url"].split("?")[0]}
        for a in message["attachments"]]}


def test_claim_rules(api: Api, user: str, other_user: str, active: str, open_session: OpenSession) -> None:
    mine = upload(api, user, images.png()).get_json()["id"]
    theirs = upload(api, other_user, images.png()).get_json()["id"]
    path = f"/sessions/{active}/messages"
    refused = api.post(path, user, json={"client_msg_id": "a", "attachment_ids": [theirs]})
    assert refused.status_code == 422 and "attachment_ids" in refused.get_json()["error"]["details"]["fields"]
    unknown = api.post(path, user, json={"client_msg_id": "a", "attachment_ids": ["att_" + "0" * 28]})
    assert unknown.status_code == 422
    # Image only, no text: fine.
    first = api.post(path, user, json={"client_msg_id": "a", "attachment_ids": [mine]})
    assert first.status_code == 201 and first.get_json()["body"] == ""
    # The retry of that message is the same message, not a conflict. Its attachment URLs are
    # signed afresh (their `expires` moves on when the retry lands in a later second).
    assert _unsigned(api.post(path, user, json={"client_msg_id": "a", "attachment_ids": [mine]}).get_json()) \
        == _unsigned(first.get_json())
    reused = api.post(path, user, json={"client_msg_id": "b", "body": "again", "attachment_ids": [mine]})
    assert reused.status_code == 409 and reused.get_json()["error"]["details"]["reason"] == "attachment_in_use"
    elsewhere = open_session("trading")["id"]
    assert api.post(f"/sessions/{elsewhere}/messages", user,
                    json={"client_msg_id": "c", "attachment_ids": [mine]}).status_code == 409
    too_many = [upload(api, user, images.png()).get_json()["id"] for _ in range(6)]
    response = api.post(path, user, json={"client_msg_id": "d", "attachment_ids": too_many})
    assert response.status_code == 422
    assert api.get(f"/sessions/{active}", user).get_json()["last_seq"] == 2  # the claim's "joined", then "a"
    blank = api.post(path, user, json={"client_msg_id": "e", "body": " ", "attachment_ids": []})
    assert blank.status_code == 422


def test_exif_and_gps_are_gone_and_orientation_kept(api: Api, user: str) -> None:
    raw = images.jpeg_with_gps(orientation=6)
    assert b"SecretPhoneMaker" in raw and Image.open(io.BytesIO(raw)).getexif().get_ifd(0x8825)
    attachment = upload(api, user, raw, "IMG_0001.jpg", content_type="image/jpeg").get_json()
    stored = api.get(f"/attachments/{attachment['id']}", user).data
    for secret in (b"Exif", b"SecretPhoneMaker", b"SERIAL-0123456789"):
        assert secret not in stored
    image = Image.open(io.BytesIO(stored))
    assert dict(image.getexif()) == {} and "exif" not in image.info and "icc_profile" not in image.info
    # 200×100 with "rotate 90° clockwise" is shown 100×200: the red left half ends on top.
    assert (attachment["width"], attachment["height"]) == image.size == (100, 200)
    top, bottom = image.convert("RGB").getpixel((50, 40)), image.convert("RGB").getpixel((50, 160))
    assert top[0] > 200 and top[2] < 60, top
    assert bottom[2] > 200 and bottom[0] < 60, bottom


def test_png_text_chunks_and_icc_profile_are_stripped(api: Api, user: str) -> None:
    raw = images.png_with_icc_and_text()
    assert b"iCCP" in raw and b"wallet balance" in raw
    attachment = upload(api, user, raw).get_json()
    stored = api.get(f"/attachments/{attachment['id']}", user).data
    assert b"iCCP" not in stored and b"tEXt" not in stored and b"wallet balance" not in stored
    assert stored.endswith(b"IEND\xaeB`\x82")


def test_webp_and_heic(api: Api, user: str) -> None:
    webp = upload(api, user, images.webp(), "a.webp", content_type="image/webp").get_json()
    assert webp["content_type"] == "image/webp"
    heic = upload(api, user, images.heic(), "IMG_0002.HEIC", content_type="image/heic").get_json()
    assert (heic["content_type"], heic["width"], heic["height"]) == ("image/jpeg", 120, 60)
    assert Image.open(io.BytesIO(api.get(f"/attachments/{heic['id']}", user).data)).format == "JPEG"


@pytest.mark.parametrize(("name", "data", "status", "reason"), [
    ("bomb.png", images.decompression_bomb(), 422, "too_many_pixels"),
    # Under Pillow's own bomb threshold, over ours (50 MP): our header check refuses it.
    ("big.png", images.decompression_bomb(side=8000), 422, "too_many_pixels"),
    ("vector.svg", images.SVG, 415, "active_content"),
    ("renamed.png", images.PDF, 415, "active_content"),
    ("half.png", images.truncated_png(), 422, "corrupt"),
    ("empty.png", b"", 422, "empty"),
    ("page.png", images.html_polyglot(), 415, "active_content"),
    ("anim.gif", images.gif(), 415, "not_an_accepted_image"),
    ("notes.png", b"just some text, not an image", 415, "not_an_accepted_image"),
])
def test_refused_uploads_store_nothing(api: Api, app: Flask, user: str, name: str, data: bytes, status: int,
                                       reason: str) -> None:
    response = upload(api, user, data, name)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["details"]["reason"] == reason
    assert stored_files(app) == [] and attachment_rows(app) == 0


def test_trailing_bytes_after_png_end_are_refused(api: Api, app: Flask, user: str) -> None:
    response = upload(api, user, images.png() + b"PK\x03\x04hidden zip")
    assert response.status_code == 415 and response.get_json()["error"]["details"]["reason"] == "trailing_data"
    assert stored_files(app) == []


def test_request_shape_errors(api: Api, app: Flask, user: str) -> None:
    wrong_field = upload(api, user, images.png(), field="image")
    assert wrong_field.status_code == 422 and "file" in wrong_field.get_json()["error"]["details"]["fields"]
    not_multipart = api.post("/attachments", user, data=images.png(), content_type="image/png")
    assert not_multipart.status_code == 415
    two = api.post("/attachments", user, content_type="multipart/form-data",
                   data={"file": [(io.BytesIO(images.png()), "a.png"), (io.BytesIO(images.png()), "b.png")]})
    assert two.status_code == 422
    assert stored_files(app) == [] and attachment_rows(app) == 0


def test_byte_limit(api: Api, app: Flask, user: str) -> None:
    runtime = app.extensions["support_api"]
    app.extensions["support_api"] = replace(runtime, settings=replace(runtime.settings, upload_max_bytes=4096))
    big = images.encode(Image.effect_noise((128, 128), 80).convert("RGB"), "PNG")
    assert len(big) > 4096
    response = upload(api, user, big)
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "payload_too_large"
    # Far over the limit: refused while streaming the body, before the form is parsed.
    huge = upload(api, user, b"\x89PNG" + b"\x00" * 200_000)
    assert huge.status_code == 413
    assert stored_files(app) == [] and attachment_rows(app) == 0
    assert upload(api, user, images.png(8, 8)).status_code == 201


def test_signed_urls(api: Api, app: Flask, user: str) -> None:
    attachment = upload(api, user, images.png()).get_json()
    assert fetch(api, attachment["url"]).status_code == 200
    thumbnail = fetch(api, attachment["thumbnail_url"])
    assert thumbnail.status_code == 200 and thumbnail.mimetype == "image/jpeg"
    query = parse_qs(urlsplit(attachment["url"]).query)
    sig = query["sig"][0]
    flipped = ("B" if sig[0] == "A" else "A") + sig[1:]  # always a different signature
    tampered_sig = f"/attachments/{attachment['id']}?expires={query['expires'][0]}&sig={flipped}"
    later = f"/attachments/{attachment['id']}?expires={int(query['expires'][0]) + 3600}&sig={query['sig'][0]}"
    other_variant = f"/attachments/{attachment['id']}/thumbnail?expires={query['expires'][0]}&sig={query['sig'][0]}"
    for url in (tampered_sig, later, other_variant, f"/attachments/{attachment['id']}?sig=x",
                f"/attachments/{attachment['id']}?expires=soon&sig=%E2%9C%93"):
        response = api.get(url)
        assert response.status_code == 403, url
        assert response.get_json()["error"]["code"] == "forbidden"
    expired = app.extensions["support_api"].signer.url(attachment["id"], "original", now=time.time() - 100_000)
    response = fetch(api, expired)
    assert response.status_code == 403 and response.get_json()["error"]["details"]["reason"] == "expired"


def test_socket_send_with_attachment(api: Api, user: str, operator: str, active: str,
                                     socket_client: Callable[[str | None], Any]) -> None:
    attachment = upload(api, user, images.png()).get_json()
    user_socket, op_socket = socket_client(user), socket_client(operator)
    assert op_socket.emit("session:join", {"session_id": active}, callback=True)["ok"]
    op_socket.get_received()
    ack = user_socket.emit("message:send", {"session_id": active, "client_msg_id": "s1", "body": "",
                                            "attachment_ids": [attachment["id"]]}, callback=True)
    assert ack["ok"], ack
    events = [e["args"][0] for e in op_socket.get_received() if e["name"] == "message:new"]
    assert [[a["id"] for a in e["attachments"]] for e in events] == [[attachment["id"]]]
    assert fetch(api, events[0]["attachments"][0]["url"]).status_code == 200


def test_cleanup_removes_only_old_unclaimed(api: Api, app: Flask, user: str, active: str) -> None:
    claimed = upload(api, user, images.png()).get_json()["id"]
    api.post(f"/sessions/{active}/messages", user, json={"client_msg_id": "k", "attachment_ids": [claimed]})
    upload(api, user, images.png())
    runtime = app.extensions["support_api"]
    assert cleanup_unclaimed(runtime, 3600) == 0
    assert cleanup_unclaimed(runtime, 0) == 1
    assert attachment_rows(app) == 1 and len(stored_files(app)) == 2
    assert api.get(f"/attachments/{claimed}", user).status_code == 200
