#!/usr/bin/env bash
# Property-based fuzzing of the real server against openapi.yaml with schemathesis (v4 CLI).
#
#   scripts/fuzz.sh                      # fresh SQLite database in a temporary directory
#   SUPPORT_API_FUZZ_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/fuzz scripts/fuzz.sh
#
# Needs ./.venv with the project and its test extras installed (scripts/test.sh does that).
# Starts `support-api serve` on a free port of 127.0.0.1 (eventlet, as in production), mints
# tokens for a user, an operator and an admin, seeds sessions and uploads, and runs schemathesis
# once per token. Talks to nothing but that server. Exits non-zero if any check fails, or if the
# server logged an error.
#
# Knobs (environment): SUPPORT_API_FUZZ_DATABASE_URL (an empty, migratable database; default a
# temporary SQLite file), FUZZ_MAX_EXAMPLES (default 50 per operation), FUZZ_SEED (default a
# fixed one, so a run is reproducible), FUZZ_TIMEOUT (seconds per schemathesis run, default 420),
# FUZZ_REPORT_DIR (write one JUnit XML report per token there, named after FUZZ_LABEL: the test
# script sums them into its closing total).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-50}
SEED=${FUZZ_SEED:-20261125}
RUN_TIMEOUT=${FUZZ_TIMEOUT:-420}

# What every request of every run is checked for, and why:
# - not_a_server_error          bad input is a 4xx with the error envelope, never a 5xx (DESIGN.md);
# - status_code_conformance     every status the server answers is documented for that operation;
# - content_type_conformance    every response is the documented media type (application/json);
# - response_schema_conformance every body matches its schema; the schemas use required fields,
#                               `additionalProperties: false` and per-status error codes, so a
#                               renamed, added or dropped field fails here;
# - response_headers_conformance documented response headers are present and valid;
# - negative_data_rejection     input the spec forbids (wrong types, out-of-range numbers, too long
#                               or badly formed strings, unknown fields, missing required fields) is
#                               refused with a 4xx: the spec's constraints are the server's;
# - positive_data_acceptance    input the spec allows is not refused as invalid. Its accepted
#                               statuses are schemathesis' defaults (2xx, 401, 403, 404, 409, ...):
#                               404 stays accepted on purpose because a syntactically valid but
#                               random session id is a session that does not exist (404 by design),
#                               and 403/409 because valid input may still meet a role or state rule
#                               (a user claiming, a message to a closed session). 400/413/415/422
#                               stay failures, except the few refusals no schema can foresee, which
#                               a filter_failure hook below drops one by one (see there);
# - missing_required_header, ignored_auth
#                               a request without (or with a broken) bearer token gets 401 on every
#                               operation that declares bearerAuth;
# - unsupported_method, allow_header_conformance
#                               an undocumented method on a documented path gets 405 with an
#                               `Allow` header naming the methods that exist.
# Left out: use_after_free and ensure_resource_availability pair a DELETE (or a create) with a
# GET of the same resource, and the API has no such pair (DELETE /devices/{token} has no GET);
# object_level_authorization needs identities wired as WFC peers, which the pytest suite covers
# instead (a user asking for another user's session or attachment gets 404).
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
CHECKS+=,response_headers_conformance,negative_data_rejection,positive_data_acceptance
CHECKS+=,missing_required_header,ignored_auth,unsupported_method,allow_header_conformance

say() { printf '\n== %s\n' "$*"; }
die() { printf 'fuzz: %s\n' "$*" >&2; exit 2; }

[ -x "$VENV/bin/support-api" ] || die "no $VENV/bin/support-api: install the project first (scripts/test.sh)"
[ -x "$VENV/bin/st" ] || die "no $VENV/bin/st: install the test extras (pip install -e '.[test]')"

# A clean, known environment: nothing from the caller's SUPPORT_API_* settings leaks in (a Redis
# URL, a public key, an issuer...), except the database to fuzz against.
for name in $(compgen -e | grep '^SUPPORT_API_' || true); do
  [ "$name" = SUPPORT_API_FUZZ_DATABASE_URL ] || unset "$name"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/support-api-fuzz.XXXXXX")
SERVER_PID=""
STATUS=1
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "$STATUS" -eq 0 ]; then
    rm -rf "$WORK"
  else
    echo "fuzz: server log and schemathesis output kept in $WORK" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export SUPPORT_API_VAR_DIR="$WORK/var"
export SUPPORT_API_JWT_SECRET
SUPPORT_API_JWT_SECRET=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(48))')
export SUPPORT_API_ASYNC_MODE=eventlet
export SUPPORT_API_HOST=127.0.0.1
# The spec documents the default message limit (maxLength 4096): fuzz with exactly that.
export SUPPORT_API_MAX_MESSAGE_LENGTH=4096
export SUPPORT_API_ATTACHMENTS_PER_MESSAGE=5
export SUPPORT_API_LOG_LEVEL=WARNING
# Rate limits stay on (their code runs on every request) but far above what one fuzz run sends:
# with the production defaults (60 messages a minute, 20 bad tokens a minute per address...) most
# of the run would be 429s, and ignored_auth would see 429 instead of 401 once schemathesis has
# sent 20 broken tokens. 429 and Retry-After are documented for every operation all the same;
# the limits themselves are tested by the pytest suite.
export SUPPORT_API_RATE_LIMIT_MESSAGES=1000000/minute
export SUPPORT_API_RATE_LIMIT_SESSIONS=1000000/minute
export SUPPORT_API_RATE_LIMIT_UPLOADS=1000000/minute
export SUPPORT_API_RATE_LIMIT_AUTH_FAILURES=1000000/minute
if [ -n "${SUPPORT_API_FUZZ_DATABASE_URL:-}" ]; then
  export SUPPORT_API_DATABASE_URL="$SUPPORT_API_FUZZ_DATABASE_URL"
  DB_LABEL="$("$VENV/bin/python" -c 'import sys; from sqlalchemy.engine import make_url; print(make_url(sys.argv[1]).render_as_string(hide_password=True))' "$SUPPORT_API_DATABASE_URL")"
else
  DB_LABEL="SQLite in $SUPPORT_API_VAR_DIR"
fi
export SUPPORT_API_AUTO_MIGRATE=false

say "Migrating $DB_LABEL"
"$VENV/bin/support-api" db upgrade

say "Starting the server on 127.0.0.1:$PORT (eventlet)"
"$VENV/bin/support-api" serve --port "$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
BASE="http://127.0.0.1:$PORT/v1"

"$VENV/bin/python" - "$BASE" "$SERVER_PID" <<'PY' || { tail -n 40 "$WORK/server.log" >&2; die "the server did not become healthy"; }
import os, sys, time, urllib.request
base, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("the server exited")
    try:
        with urllib.request.urlopen(base + "/health", timeout=2) as response:
            if response.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit("no healthy answer from /health within 30 s")
PY

USER_TOKEN=$("$VENV/bin/support-api" token fuzz-user --role user --name "Fuzz ユーザー" --locale ja)
OPERATOR_TOKEN=$("$VENV/bin/support-api" token fuzz-operator --role operator --name "Fuzz Operator" --locale en)
ADMIN_TOKEN=$("$VENV/bin/support-api" token fuzz-admin --role admin --name "Fuzz Admin")

# Real data for generated requests to reach: a few sessions (waiting, active with replies,
# closed), two real cursors, and images uploaded by each identity (one already in a message).
say "Seeding sessions and uploads"
SEED_OUTPUT=$("$VENV/bin/python" - "$BASE" "$USER_TOKEN" "$OPERATOR_TOKEN" "$ADMIN_TOKEN" <<'PY'
import io, json, sys, urllib.request
from PIL import Image

base, user, operator, admin = sys.argv[1:5]

def call(method, path, token, body=None, content_type="application/json"):
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=body, method=method,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)

def upload(token, n):
    image = io.BytesIO()
    Image.new("RGB", (24 + n, 16), (40 * n % 256, 120, 200)).save(image, "PNG")
    boundary = f"fuzzseed{n}"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s{n}.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + image.getvalue() + f"\r\n--{boundary}--\r\n".encode()
    return call("POST", "/attachments", token, body, f"multipart/form-data; boundary={boundary}")["id"]

ids = []
for n, (category, text) in enumerate([("funds", "出金が反映されません。"), ("trading", "My order is stuck."),
                                      ("security", "ログイン通知が届きました。")]):
    opened = call("POST", "/sessions", user, {"category": category, "message": {"body": text, "client_msg_id": f"seed-{n}"},
                                              "client_context": {"app_version": "5.12.0", "locale": "ja-JP"}})
    ids.append(opened["id"])
shown = upload(user, 0)
call("POST", f"/sessions/{ids[0]}/messages", user, {"client_msg_id": "seed-image", "attachment_ids": [shown]})
call("POST", f"/sessions/{ids[1]}/claim", operator)
call("POST", f"/sessions/{ids[1]}/messages", operator, {"body": "Let me check that for you.", "client_msg_id": "op-1"})
call("POST", f"/sessions/{ids[2]}/close", user)
cursors = [call("GET", f"/sessions?limit=1&order={order}", user)["next_cursor"] for order in ("desc", "asc")]
print(" ".join(ids))
print(" ".join(cursors))
print(" ".join(upload(user, n) for n in range(1, 4)))
print(" ".join(upload(operator, n) for n in range(4, 7)))
print(shown)
print(" ".join(upload(admin, n) for n in range(7, 10)))
PY
) || die "seeding the server failed (see $WORK/server.log)"
SESSION_IDS=$(sed -n 1p <<<"$SEED_OUTPUT")
CURSORS=$(sed -n 2p <<<"$SEED_OUTPUT")
USER_UPLOADS=$(sed -n 3p <<<"$SEED_OUTPUT")
OPERATOR_UPLOADS=$(sed -n 4p <<<"$SEED_OUTPUT")
SHOWN_UPLOAD=$(sed -n 5p <<<"$SEED_OUTPUT")
ADMIN_UPLOADS=$(sed -n 6p <<<"$SEED_OUTPUT")
echo "sessions: $SESSION_IDS"
echo "uploads:  user $USER_UPLOADS; operator $OPERATOR_UPLOADS; admin $ADMIN_UPLOADS; in a message $SHOWN_UPLOAD"

# positive_data_acceptance and the few rules no schema can state. A schema-valid request may
# still be refused, correctly, for a reason that needs server state or a decoder to judge. The
# filter below drops exactly those rejections (shown as "dropped by filter_failure" in the
# report) and keeps every other one, so the check stays on for every operation:
# - attachment_ids naming something that is not the caller's own upload (422 "not an upload of
#   yours"), or more distinct uploads than SUPPORT_API_ATTACHMENTS_PER_MESSAGE (422): the
#   coverage phase builds ids from the schema, not from the dictionary of real uploads;
# - a list (GET /sessions, /admin/audit, /admin/push/outbox, /canned-replies, /faq/articles, /incidents)
#   given a cursor the server did not issue (opaque cursors: 422), or a user sending assigned=me to GET /sessions
#   (staff only: 422);
# - an internal note (visibility: internal) with attachment_ids (notes are text only: 422);
# - a message (or first message) with neither non-blank text nor attachment_ids, and a transfer
#   naming neither a department nor an operator_id (422): "at least one of" is stated in the
#   description, not as an anyOf, because code generators cannot use anyOf of partial objects;
# - a transfer to an operator_id no operator has (422: operators are known once they set a status);
# - GET /admin/stats with `since` not before `until`, more than 366 days before it, or a default
#   window that would start before year 1 (422: relations between parameters);
# - POST /attachments with bytes that are not a PNG/JPEG/WebP/HEIC image (415) or are empty,
#   corrupt or too many pixels (422): the schema can only say "binary";
# - POST /verify-contact giving none or more than one of handle, url and text (422): "exactly one of" is
#   stated in the description, not as a oneOf of partial objects, for the code generators;
# - a free-text field the guard refuses (422 sensitive_content): only when the field the refusal
#   names holds, in this very request, a value that the guard itself (support_api.lib.guard) flags
#   — a string of 64 hex digits is a possible private key, whatever the schema says.
# Only a refusal whose status, code and details name that rule, for input that really breaks it,
# is dropped; the response is still checked against its schema by response_schema_conformance.
cat >"$WORK/hooks.py" <<'PY'
import os

import schemathesis

OWN_UPLOADS = set(os.environ["FUZZ_OWN_UPLOADS"].split())
ISSUED_CURSORS = set(os.environ["FUZZ_CURSORS"].split())
CALLER_IS_USER = os.environ["FUZZ_ROLE"] == "user"
ATTACHMENT_LIMIT = int(os.environ["FUZZ_ATTACHMENT_LIMIT"])


def _error(response):
    try:
        error = response.json()["error"]
        return error["code"], error["message"], error["details"]
    except Exception:
        return None


def _attachment_ids(case):
    body = case.body if isinstance(case.body, dict) else {}
    if case.operation.path == "/sessions":
        body = body.get("message") if isinstance(body.get("message"), dict) else {}
    ids = body.get("attachment_ids")
    return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []


def _values_named(body, field):
    """Every string in the request body under a key named `field` (at any depth)."""
    if isinstance(body, dict):
        for key, value in body.items():
            if key == field and isinstance(value, str):
                yield value
            else:
                yield from _values_named(value, field)
    elif isinstance(body, list):
        for value in body:
            yield from _values_named(value, field)


def _guard_flags(body, field):
    if not isinstance(field, str) or not field:
        return False
    from support_api.lib import guard
    for value in _values_named(body, field.rsplit(".", 1)[-1]):
        for author in ("user", "operator"):
            result = guard.inspect(value, author=author)
            if result.blocked is not None or result.ambiguous is not None:
                return True
    return False


def _refused_by_unstated_rule(case, response):
    """The rule that explains this refusal, or None."""
    error = _error(response)
    if error is None:
        return None
    code, message, details = error
    fields = details.get("fields") or {}
    status, method, path = response.status_code, case.operation.method.upper(), case.operation.path
    if (method, path) in (("POST", "/sessions"), ("POST", "/sessions/{session_id}/messages")):
        content = case.body if isinstance(case.body, dict) else {}
        if path == "/sessions":
            content = content.get("message") if isinstance(content.get("message"), dict) else {}
        blank = (f"{'message.' if path == '/sessions' else ''}body",)
        if status == 422 and code == "validation_error" and tuple(fields) == blank \
                and fields[blank[0]] == ["Must not be empty unless the message has attachments."] \
                and not str(content.get("body", "")).strip() and not content.get("attachment_ids"):
            return "a message with neither text nor attachments"
        if status != 422 or code != "validation_error" or set(fields) != {"attachment_ids"}:
            return None
        ids = _attachment_ids(case)
        body = case.body if isinstance(case.body, dict) else {}
        if fields["attachment_ids"] == ["Internal notes carry text only."] and body.get("visibility") == "internal" \
                and ids:
            return "an internal note with attachment_ids"
        if message == "Too many attachments" and len(set(ids)) > ATTACHMENT_LIMIT:
            return "more distinct attachment_ids than allowed"
        if message == "Attach only images you uploaded":
            named = [entry.rsplit(" is not an upload of yours.", 1)[0] for entry in fields["attachment_ids"]]
            if named and all(i in ids and i not in OWN_UPLOADS for i in named):
                return "attachment_ids not the caller's uploads"
        return None
    if (method, path) == ("POST", "/sessions/{session_id}/transfer"):
        body = case.body if isinstance(case.body, dict) else {}
        if (status, code) == (422, "validation_error") and fields == {"department": ["Name a department or an operator_id."]} \
                and not body.get("department") and not body.get("operator_id"):
            return "a transfer naming neither a department nor an operator"
        if (status, code) == (422, "validation_error") and set(fields) == {"operator_id"} \
                and fields["operator_id"] == ["Unknown operator (never set a status)."]:
            return "transfer to an operator_id nobody has"
        return None
    if (method, path) == ("GET", "/admin/stats"):
        if (status, code) == (422, "validation_error") and set(fields) <= {"since", "until"} and all(
                text in ("Must be earlier than until.", "The window may span at most 366 days.",
                         "Out of range for the default window; give since.")
                for texts in fields.values() for text in texts):
            return "since/until do not form a window"
        return None
    if method == "GET" and path in ("/sessions", "/admin/audit", "/admin/push/outbox", "/canned-replies",
                                    "/faq/articles", "/incidents"):
        query = case.query or {}
        if status != 422 or code != "validation_error":
            return None
        if set(fields) == {"cursor"} and message == "The cursor is not valid" and query.get("cursor") not in ISSUED_CURSORS:
            return "cursor not issued by the server"
        if path == "/sessions" and set(fields) == {"assigned"} and CALLER_IS_USER and query.get("assigned") == "me":
            return "assigned=me sent by a user"
        return None
    if (method, path) == ("POST", "/verify-contact"):
        body = case.body if isinstance(case.body, dict) else {}
        given = [key for key in ("handle", "url", "text") if body.get(key) is not None]
        if (status, code) == (422, "validation_error") and len(given) != 1 \
                and fields == {"handle": ["Give exactly one of handle, url, text."]}:
            return "verify-contact not given exactly one of handle, url, text"
        return None
    if (status, code) == (422, "sensitive_content") and _guard_flags(case.body, details.get("field")):
        return f"a value the guard refuses or asks about in {details.get('field')}"
    if (method, path) == ("POST", "/attachments"):
        reason = details.get("reason")
        if (status, code) == (415, "unsupported_media_type") and reason in (
                "not_an_accepted_image", "active_content", "trailing_data"):
            return f"upload not an accepted image ({reason})"
        if (status, code) == (422, "validation_error") and reason in ("empty", "corrupt", "too_many_pixels"):
            return f"upload not a usable image ({reason})"
    return None


@schemathesis.deserializer("image/png", "image/jpeg", "image/webp")
def image_bytes(ctx, response):
    """Image bodies are `type: string, format: binary`: checked as a binary string."""
    return response.content.decode("latin-1")


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keep every failure but a positive-data refusal that one of the rules above explains."""
    if failure.code != "ST202":
        return True
    rule = _refused_by_unstated_rule(case, response)
    if rule is None:
        return True
    with open(os.environ["FUZZ_DROPPED_LOG"], "a", encoding="utf-8") as log:
        log.write(f"{case.operation.method.upper()} {case.operation.path}: {response.status_code} {rule}\n")
    return False
PY

toml_list() { printf '"%s", ' "$@" | sed 's/, $//'; }
write_config() {  # path, then the caller's own unclaimed uploads
  local path=$1; shift
  cat >"$path" <<TOML
hooks = "$WORK/hooks.py"

[cache]
enabled = false

[generation]
database = "none"

# Warnings. "missing_auth" (an operation answered only 401/403) is expected here: the role rules
# make a user's claim and an operator's open/reopen always 403, so it is not shown. Warnings that
# mean the spec or this script is broken fail the run: a pattern schemathesis cannot use, a reference
# that does not resolve, seeded ids the schema rejects (the id patterns drifted), a wrong base URL.
[warnings]
display = ["missing_test_data", "base_url_mismatch", "validation_mismatch", "missing_deserializer",
           "unused_openapi_auth", "unsupported_regex", "method_not_allowed", "unmatched_filter",
           "unresolvable_reference", "rate_limited", "dictionary_mismatch", "timeout_units"]
fail-on = ["unsupported_regex", "unresolvable_reference", "dictionary_mismatch", "base_url_mismatch"]

# Real ids and cursors, drawn half of the time, so that generated requests also reach existing
# sessions and images (200, 304, 409...) and real pages, not only 404s and 422s.
[dictionaries.sessions]
values = [$(toml_list $SESSION_IDS)]

[dictionaries.cursors]
values = [$(toml_list $CURSORS)]

[dictionaries.attachments]
values = [$(toml_list $SHOWN_UPLOAD $USER_UPLOADS $OPERATOR_UPLOADS)]

# The caller's own unused uploads: the only values "attachment_ids" can hold for a message to be
# accepted (any other id is 422 "not an upload of yours", a rule no schema can state). Each is
# claimed by the first message that names it; later messages naming it get 409 attachment_in_use.
[dictionaries.uploads]
values = [$(toml_list "$@")]

[parameters]
"path.session_id" = { dictionary = "sessions", probability = 0.5 }
"path.attachment_id" = { dictionary = "attachments", probability = 0.5 }
"body.attachment_ids[*]" = { dictionary = "uploads", probability = 0.5 }
"body.message.attachment_ids[*]" = { dictionary = "uploads", probability = 0.5 }

# Session-list cursors mean nothing to the other lists (audit, push outbox).
[[operations]]
include-operation-id = "listSessions"
parameters = { "query.cursor" = { dictionary = "cursors", probability = 0.5 } }
TOML
}

run_schemathesis() {  # label token uploads...
  local label=$1 token=$2; shift 2
  say "schemathesis as $label"
  local config="$WORK/schemathesis-$label.toml" log="$WORK/schemathesis-$label.log" rc=0
  # (set -e does not apply inside a function called from `||`: check each step.)
  write_config "$config" "$@" || { echo "fuzz: could not write $config" >&2; return 2; }
  FUZZ_OWN_UPLOADS="$*" FUZZ_CURSORS="$CURSORS" FUZZ_ROLE="$label" FUZZ_DROPPED_LOG="$WORK/dropped-$label.txt" \
  FUZZ_ATTACHMENT_LIMIT="$SUPPORT_API_ATTACHMENTS_PER_MESSAGE" \
  timeout --kill-after=10 "$RUN_TIMEOUT" \
    "$VENV/bin/st" --config-file "$config" run openapi.yaml \
      --url "$BASE" \
      --header "Authorization: Bearer $token" \
      --checks "$CHECKS" \
      --max-examples "$MAX_EXAMPLES" \
      --seed "$SEED" \
      --workers 1 \
      --request-timeout 10 \
      --no-color \
      ${FUZZ_REPORT_DIR:+--report junit --report-junit-path "$FUZZ_REPORT_DIR/${FUZZ_LABEL:-fuzz}--$label.xml"} \
      2>&1 | tee "$log" || rc=$?
  if [ -s "$WORK/dropped-$label.txt" ]; then
    echo "Positive-data refusals dropped by the filter_failure hook (rules no schema can state):"
    sort "$WORK/dropped-$label.txt" | uniq -c | sort -rn
  fi
  return "$rc"
}

FAILED=()
run_schemathesis user "$USER_TOKEN" $USER_UPLOADS || FAILED+=(user)
run_schemathesis operator "$OPERATOR_TOKEN" $OPERATOR_UPLOADS || FAILED+=(operator)
run_schemathesis admin "$ADMIN_TOKEN" $ADMIN_UPLOADS || FAILED+=(admin)

# An error the server only logged (a failed socket packet, a push that crashed) fails the run too.
ERRORS='"level": *"(ERROR|CRITICAL)"| (ERROR|CRITICAL) |Traceback'
if grep -qE "$ERRORS" "$WORK/server.log"; then
  say "The server logged errors"
  grep -E "$ERRORS" "$WORK/server.log" | cut -c 1-2000 | head -n 40
  FAILED+=(server-log)
fi

say "Summary ($DB_LABEL, seed $SEED, $MAX_EXAMPLES examples per operation)"
if [ "${#FAILED[@]}" -eq 0 ]; then
  echo "fuzz: all checks passed for the user, the operator and the admin token"
  STATUS=0
else
  echo "fuzz: FAILED: ${FAILED[*]}"
  STATUS=1
fi
exit "$STATUS"
