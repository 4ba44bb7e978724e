"""A bare Flask-SocketIO server speaking just enough of our protocol for `load.py --url`.

The yardstick of issue 16: the same load shape, the same clients and the same runtime (gevent,
TCP_NODELAY listener) against a process that does nothing but Socket.IO — no database, no
token check beyond decoding, no guard, no rate limits, no metrics. What our server costs per
message above this is our own code (bench/README.md, "Issue 16").

    .venv/bin/python bench/bare_server.py --port 8790 &
    .venv/bin/python bench/load.py --url http://127.0.0.1:8790 --jwt-secret bare --shape pairs \
        --sessions 100 --rate 1000 --duration 12

Endpoints: GET /v1/health, POST /v1/sessions, POST /v1/sessions/<id>/claim; events
`session:join` (joins the chat's room) and `message:send` (acks with the message, emits
`message:new` to the room except the sender), with the payload shapes of docs/asyncapi.yaml.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8790)
    args = parser.parse_args()

    from gevent import monkey

    monkey.patch_all()
    import datetime
    import socket

    from flask import Flask, jsonify, request
    from flask_socketio import SocketIO, join_room
    from gevent.pywsgi import WSGIServer

    app = Flask("bare")
    sio = SocketIO(app, async_mode="gevent")
    ids = itertools.count(1)
    seqs: dict[str, int] = {}

    @app.get("/v1/health")
    def health() -> object:
        return jsonify(status="ok")

    @app.post("/v1/sessions")
    def open_session() -> object:
        sid = f"ses_{next(ids):028x}"
        seqs[sid] = 0
        return jsonify(id=sid, status="waiting"), 201

    @app.post("/v1/sessions/<sid>/claim")
    def claim(sid: str) -> object:
        return jsonify(id=sid, status="active")

    @sio.on("connect")
    def connect(auth: object = None) -> bool:
        return True

    @sio.on("session:join")
    def join(data: dict[str, object]) -> dict[str, object]:
        join_room(f"session:{data['session_id']}")
        return {"ok": True, "messages": []}

    @sio.on("message:send")
    def send(data: dict[str, object]) -> dict[str, object]:
        sid = str(data["session_id"])
        seqs[sid] = seqs.get(sid, 0) + 1
        message = {"id": f"msg_{next(ids):028x}", "session_id": sid, "seq": seqs[sid],
                   "sender": {"type": "user", "id": "x", "name": None}, "body": data["body"],
                   "client_msg_id": data["client_msg_id"], "attachments": [], "visibility": "public",
                   "created_at": datetime.datetime.now(datetime.UTC).isoformat()}
        sio.emit("message:new", message, to=f"session:{sid}", skip_sid=request.sid)  # type: ignore[attr-defined]
        return {"ok": True, "message": message, "duplicate": False}

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as serving.py does
    listener.bind(("127.0.0.1", args.port))
    listener.listen(1024)
    print(f"bare Flask-SocketIO on 127.0.0.1:{args.port}, pid {os.getpid()}", file=sys.stderr, flush=True)
    WSGIServer(listener, app, log=None).serve_forever()


if __name__ == "__main__":
    main()
