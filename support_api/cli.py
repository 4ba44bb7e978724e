"""`support-api` console script: serve, db upgrade, token, attachments cleanup, push-worker, faq.

Nothing heavy is imported at module level: `serve` must install the async runtime
(eventlet/gevent monkey-patching) before Flask, SQLAlchemy, psycopg or redis are imported.
"""

from __future__ import annotations

import argparse
import os
import sys


def _prepare_runtime(async_mode: str) -> None:
    """Monkey-patch for the chosen runtime. Only the server entry point does this."""
    if async_mode == "eventlet":
        # psycopg 3's C-level wait would block every greenlet during a query.
        os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")
        import eventlet

        eventlet.monkey_patch()
    elif async_mode == "gevent":
        from gevent import monkey

        monkey.patch_all()


def _serve(args: argparse.Namespace) -> int:
    from support_api.config import Settings

    settings = Settings.from_env()
    _prepare_runtime(settings.async_mode)

    import logging

    from support_api.lib.logs import configure_logging

    configure_logging(settings.log_level)
    from support_api.app import create_app
    from support_api.lib import migrate

    if settings.auto_migrate:
        migrate.upgrade(settings.database_url)
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    app = create_app(settings)
    _faq_start(app, settings)
    from support_api.push_worker import start_embedded

    start_embedded(app)
    if settings.metrics_port is not None:
        from support_api.lib import metrics

        metrics.QUEUE.bind(metrics.waiting_counter(app.extensions["support_api"].db))
        metrics.watch_slots(app.extensions["support_api_gate"].slots)
        metrics.serve_metrics(settings.metrics_host, settings.metrics_port)
    logging.getLogger("support_api").info("serving on http://%s:%s (async mode %s)", host, port, settings.async_mode)
    from support_api.serving import serve

    return serve(app, settings, host, port)


def _db_upgrade(args: argparse.Namespace) -> int:
    from support_api.config import Settings
    from support_api.lib import migrate

    migrate.upgrade(Settings.from_env().database_url, args.revision)
    return 0


def _token(args: argparse.Namespace) -> int:
    from support_api.config import Settings
    from support_api.lib.auth import Role, mint_token

    departments = [d.strip() for d in (args.departments or "").split(",") if d.strip()]
    settings = Settings.from_env()
    token = mint_token(settings, args.sub, Role(args.role), name=args.name, locale=args.locale,
                       departments=departments, ttl_seconds=args.ttl)
    if args.console:
        # The token rides in the fragment: browsers never send it to the server or its logs.
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        page = "demo/" if args.role == "user" else "console/"
        print(f"http://{host}:{settings.port}/{page}#token={token}")
        return 0
    print(token)
    return 0


def _attachments_cleanup(args: argparse.Namespace) -> int:
    from support_api.app import create_app
    from support_api.config import Settings
    from support_api.services.attachments import cleanup_unclaimed

    settings = Settings.from_env()
    # A maintenance run serves no sockets: no runtime to patch, no message queue to join.
    app = create_app(settings.with_overrides(async_mode="threading", redis_url=None))
    older_than = settings.unclaimed_attachment_ttl if args.older_than is None else args.older_than
    with app.app_context():
        removed = cleanup_unclaimed(app.extensions["support_api"], older_than)
    print(f"removed {removed} unclaimed attachment(s) older than {older_than} s")
    return 0


def _push_worker(args: argparse.Namespace) -> int:
    from support_api.config import ConfigError, Settings

    settings = Settings.from_env()
    if not settings.redis_url:
        # Who is connected to which chat is known only to the server processes; a worker of
        # its own reads it from Redis (lib/presence.py). Without it, use the embedded sender.
        raise ConfigError("push-worker needs SUPPORT_API_REDIS_URL (the servers keep presence there); "
                          "with a single server process, leave SUPPORT_API_PUSH_EMBEDDED on instead")
    import logging
    import signal

    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from support_api.lib.db import Database
    from support_api.lib.presence import RedisPresence
    from support_api.lib.push_sender import make_sender
    from support_api.push_worker import PushWorker

    db = Database(settings.database_url)
    worker = PushWorker(settings, db, make_sender(settings.push), RedisPresence(settings.redis_url))
    if settings.metrics_port is not None:
        from support_api.lib import metrics

        metrics.QUEUE.bind(metrics.waiting_counter(db))
        metrics.watch_garbage_collector()
        metrics.serve_metrics(settings.metrics_host, settings.metrics_port)
    # Finish the round in flight, then stop: a row sent but not recorded would go out twice.
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    worker.run_forever()
    return 0


def _faq_start(app: object, settings: object) -> None:
    """The starter FAQ on a database's first start; the search index built before any request."""
    from support_api.services import faq

    runtime = app.extensions["support_api"]  # type: ignore[attr-defined]
    if runtime.settings.self_service.seed:
        faq.seed_starter(runtime)
    faq.index(runtime)


def _maintenance_runtime():  # type: ignore[no-untyped-def]
    from support_api.app import create_app
    from support_api.config import Settings

    # A maintenance run serves no sockets: no runtime to patch, no message queue to join.
    app = create_app(Settings.from_env().with_overrides(async_mode="threading", redis_url=None))
    return app.extensions["support_api"]


def _faq_import(args: argparse.Namespace) -> int:
    from support_api.lib.errors import ValidationFailed
    from support_api.services import faq

    try:
        raw = sys.stdin.read() if args.file == "-" else open(args.file, encoding="utf-8").read()  # noqa: SIM115
        articles = faq.load_yaml(raw)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"support-api: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    except ValidationFailed as exc:
        print(f"support-api: {exc.message}: {exc.details}", file=sys.stderr)
        return 2
    created, updated = faq.import_articles(_maintenance_runtime(), articles)
    print(f"imported {len(articles)} article(s): {created} created, {updated} updated")
    return 0


def _faq_export(args: argparse.Namespace) -> int:
    from support_api.services import faq

    text = faq.dump_yaml(faq.export_articles(_maintenance_runtime()))
    if args.output and args.output != "-":
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="support-api", description="Support-chat backend (REST + Socket.IO)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the REST + Socket.IO server")
    serve.add_argument("--host", help="bind address (default SUPPORT_API_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default SUPPORT_API_PORT or 8000; 0 picks a free one)")
    serve.set_defaults(run=_serve)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="apply Alembic migrations")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(run=_db_upgrade)

    files = commands.add_parser("attachments", help="attachment maintenance")
    file_commands = files.add_subparsers(dest="attachments_command", required=True)
    cleanup = file_commands.add_parser("cleanup", help="delete uploads no message claimed in time")
    cleanup.add_argument("--older-than", type=int, metavar="SECONDS",
                         help="age in seconds (default SUPPORT_API_UNCLAIMED_ATTACHMENT_TTL, 86400)")
    cleanup.set_defaults(run=_attachments_cleanup)

    push = commands.add_parser("push-worker", help="send due push notifications (when not embedded in serve)")
    push.set_defaults(run=_push_worker)

    faq_parser = commands.add_parser("faq", help="FAQ articles: import and export YAML (idempotent on id)")
    faq_commands = faq_parser.add_subparsers(dest="faq_command", required=True)
    faq_import = faq_commands.add_parser("import", help="insert or replace the articles of a YAML file by id")
    faq_import.add_argument("file", help="the YAML file (`articles:` list, as `faq export` writes it); - for stdin")
    faq_import.set_defaults(run=_faq_import)
    faq_export = faq_commands.add_parser("export", help="write every article as YAML")
    faq_export.add_argument("-o", "--output", help="file to write (default: standard output)")
    faq_export.set_defaults(run=_faq_export)

    token = commands.add_parser("token", help="print a JWT signed with the configured key (local use, operations)")
    token.add_argument("sub", help="the subject: user or operator id")
    token.add_argument("--role", choices=["user", "operator", "admin"], default="user")
    token.add_argument("--name")
    token.add_argument("--locale")
    token.add_argument("--departments", help="comma-separated category codes, e.g. funds,security")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    token.add_argument("--console", action="store_true",
                       help="print a sign-in URL of the local server instead: /console/ for staff, /demo/ for users")
    token.set_defaults(run=_token)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - print a clear line instead of a traceback for config errors
        from support_api.config import ConfigError

        if isinstance(exc, ConfigError):
            print(f"support-api: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
