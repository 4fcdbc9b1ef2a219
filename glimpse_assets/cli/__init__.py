"""`glimpse`: the project's command line. `glimpse serve` runs the HTTP service; `search`,
`ask`, `ingest` and `status` are for people at a terminal (glimpse_assets/cli/, one
module each, imported when its command runs).

FastAPI and uvicorn are imported by the serve command only, so `glimpse --help` stays quick.
A bad setting, or no API keys without `--no-auth`, is one line on stderr and exit status 2.
API keys are never printed, only how many there are.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

USAGE_ERROR = 2
NO_KEYS = (
    "glimpse serve: no API keys: set GLIMPSE_API_KEYS to one or more comma-separated keys "
    "(make one with python -c 'import secrets; print(secrets.token_urlsafe(32))'), "
    "or pass --no-auth to serve every route without a key"
)
NO_AUTH_WARNING = (
    "glimpse serve: WARNING: --no-auth: every route is open to anyone who can reach "
    "{host}:{port}, with no API key"
)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def serve(args: argparse.Namespace) -> int:
    from glimpse_assets.secrets import load_secrets
    from glimpse_assets.serve.settings import ServeSettings
    from glimpse_assets.settings import ConfigurationError

    env = os.environ
    try:
        load_secrets(env)  # GLIMPSE_SECRETS_FROM, before any setting is read
        settings = ServeSettings.from_env(env)
    except ConfigurationError as error:
        _say(f"glimpse serve: {error}")
        return USAGE_ERROR
    no_auth = args.no_auth or settings.auth == "off"
    if not settings.api_keys and not no_auth:
        _say(NO_KEYS)
        return USAGE_ERROR

    # LanceDB's async runtime (tokio) on one thread per process, before lancedb loads: its work
    # is waiting on files and handing searches to lance's own compute threads, and a thread per
    # core in every worker cost about 1 ms of CPU a search in switches (benchmarks/search_latency).
    os.environ.setdefault("TOKIO_WORKER_THREADS", "1")
    import uvicorn

    from glimpse_assets.serve.app import create_app

    try:
        app = create_app(settings, env=env, no_auth=no_auth)
    except ConfigurationError as error:
        _say(f"glimpse serve: {error}")
        return USAGE_ERROR
    if no_auth:
        _say(NO_AUTH_WARNING.format(host=args.host, port=args.port))
        if settings.api_keys:
            _say("glimpse serve: GLIMPSE_API_KEYS is set but ignored with --no-auth")
    else:
        count = len(settings.api_keys)
        _say(f"glimpse serve: {count} API key{'s' if count != 1 else ''} accepted")
    _say(f"glimpse serve: http://{args.host}:{args.port}  (OpenAPI at /docs)")
    if args.workers == 1:
        uvicorn.run(app, host=args.host, port=args.port, server_header=False)
        return 0
    from glimpse_assets.serve.workers import APP_FACTORY

    del app  # checked; each worker builds its own
    os.environ["GLIMPSE_SERVE_AUTH"] = "off" if no_auth else "on"  # what each worker reads
    _say(f"glimpse serve: {args.workers} worker processes (rate limits and caches are per worker)")
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=args.host,
        port=args.port,
        server_header=False,
        workers=args.workers,
    )
    return 0


def _port(value: str) -> int:
    port = int(value)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (1 to 65535)")
    return port


def _workers(value: str) -> int:
    try:
        workers = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("is not a whole number") from None
    if not 1 <= workers <= 64:
        raise argparse.ArgumentTypeError(f"{workers} is not a number of workers (1 to 64)")
    return workers


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="glimpse", description="Glimpse's command line.")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    command = commands.add_parser(
        "serve",
        help="serve the stored outputs over HTTP (search, documents)",
        description="Serve what the assets stored over HTTP. API keys: GLIMPSE_API_KEYS "
        "(comma-separated), sent in the X-API-Key header.",
    )
    command.add_argument("--host", default="127.0.0.1", help="address to listen on")
    command.add_argument("--port", type=_port, default=8080, help="port to listen on")
    command.add_argument(
        "--no-auth",
        action="store_true",
        help="serve every route without an API key (a warning is printed)",
    )
    command.add_argument(
        "--workers",
        type=_workers,
        default=1,
        help=f"worker processes (1). One per core ({os.cpu_count() or 1} here) uses every core "
        "for searches; each worker has its own per-key rate limit, answer caches and model",
    )
    command.set_defaults(run=serve)
    _people_commands(commands)
    return top


def _command(name: str):
    """Run `glimpse_assets.cli.<name>.main(args)`, imported only then."""

    def run(args: argparse.Namespace) -> int:
        from importlib import import_module

        return import_module(f"glimpse_assets.cli.{name}").main(args)

    return run


EXITS = (
    "exit status: 0 done; 1 nothing found (or, for ingest, some files failed); 2 a usage or "
    "configuration error; 3 the storage or the index did not answer in time"
)


def _people_commands(commands) -> None:
    search = commands.add_parser(
        "search",
        help="search the indexed documents by meaning",
        description="The indexed documents nearest in meaning to QUERY, best first, as GET "
        "/search finds them (title, day, url, score, a snippet).",
        epilog=EXITS,
    )
    search.add_argument("query", metavar="QUERY", help="what to look for, in plain words")
    search.add_argument("--limit", type=int, default=5, help="how many results (1 to 50; 5)")
    search.add_argument("--day", help="only documents published that day (YYYY-MM-DD)")
    search.add_argument("--since", help="only documents published on or after this day")
    search.add_argument("--until", help="only documents published on or before this day")
    search.add_argument("--json", action="store_true", help="GET /search's JSON body")
    search.set_defaults(run=_command("search"))

    ask = commands.add_parser(
        "ask",
        help="ask a question: an answer from the indexed news, with its citations",
        description="The answer GET /ask (and an SMS) gives to QUESTION: the model's, or the "
        "extractive one from the best search hit, with the hits it is from, numbered.",
        epilog=EXITS,
    )
    ask.add_argument("question", metavar="QUESTION", help="the question, in plain words")
    ask.add_argument(
        "--seconds",
        type=float,
        help="how long the answer may take once the index is loaded (default "
        "GLIMPSE_ASK_SECONDS, 10)",
    )
    ask.add_argument("--json", action="store_true", help="GET /ask's JSON body")
    ask.set_defaults(run=_command("ask"))

    ingest = commands.add_parser(
        "ingest",
        help="add text, Markdown, HTML or PDF files to the search index",
        description="Store each file (folders: every .txt, .md, .html, .htm and .pdf under "
        "them) in the ingest inbox as POST /documents does; the inbox sensor then indexes "
        "them. Documents already in the inbox are skipped.",
        epilog="exit status: 0 every file stored or already stored; 1 a file failed (each "
        "named on stderr); 2 a usage or configuration error; 3 the storage did not answer",
    )
    ingest.add_argument("paths", metavar="PATH", nargs="+", help="a file or a folder")
    ingest.add_argument(
        "--verbose", action="store_true", help="a line for each file stored or skipped, with its id"
    )
    ingest.set_defaults(run=_command("ingest"))

    status = commands.add_parser(
        "status",
        help="per domain: the days stored, failed or missing; the index size; today's spend",
        description="For each domain, the days of a window stored, failed or missing (from the "
        "Dagster instance at DAGSTER_HOME) and the newest stored day; the search index's size "
        "and today's LLM spend (from the storage).",
        epilog="exit status: 0 (also when nothing has run yet); 2 a usage or configuration "
        "error; 3 the storage or the index did not answer",
    )
    status.add_argument(
        "--days", metavar="A..B", help="the days to show (default: the last 7, today included)"
    )
    status.add_argument("--json", action="store_true", help="the same as JSON")
    status.set_defaults(run=_command("status"))


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
