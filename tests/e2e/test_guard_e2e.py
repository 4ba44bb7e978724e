"""The sensitive-content guard through the real server: a recovery phrase is refused on REST
and Socket.IO and never reaches the other side; an account number arrives masked."""

from __future__ import annotations

from mnemonic import Mnemonic

from tests.e2e.conftest import World


def test_secrets_refused_and_numbers_masked_through_the_real_server(world: World) -> None:
    user = world.user("careless")
    op = world.operator(["funds"], label="guard-op")
    session = user.open_session("funds")
    op.claim(session["id"])
    op_sock = op.socket()
    op_sock.join(session["id"])
    user_sock = user.socket()

    phrase = Mnemonic("english").generate(strength=128)
    refused = user.api.post(f"/v1/sessions/{session['id']}/messages",
                            json={"client_msg_id": "p1", "body": f"support asked for it: {phrase}"})
    assert refused.status_code == 422 and refused.json()["error"]["details"] == {"kind": "mnemonic"}
    ack = user_sock.call("message:send", {"session_id": session["id"], "client_msg_id": "p2",
                                          "body": "abandon abandon abandon abandon abandon abandon abandon "
                                                  "abandon abandon abandon abandon about"})
    assert ack["ok"] is False and ack["error"]["code"] == "sensitive_content"

    masked = user_sock.call("message:send", {"session_id": session["id"], "client_msg_id": "p3",
                                             "body": "口座番号は 1234567 です"})
    assert masked["ok"] is True and masked["masked_kinds"] == ["bank_account"]
    delivered = op_sock.wait_for("message:new", lambda m: m["client_msg_id"] == "p3")[0]
    assert "1234567" not in delivered["body"] and "4567" in delivered["body"]
    assert [m["client_msg_id"] for m in op_sock.received("message:new")] == ["p3"]
    # Stored: the claim's "joined", then only the masked message.
    assert [(m["sender"]["type"], m["client_msg_id"]) for m in user.history(session["id"])] == [
        ("system", None), ("user", "p3")]
