"""`glimpse serve`: check the settings, build the app, and run it under uvicorn (one process, or
`--workers N` worker processes: `serve.workers`). Parsed by the assembler `cli.py`.

A bad setting, or no API keys without `--no-auth`, is one line on stderr and exit status 2.
API keys are never printed, only how many there are.
"""

from __future__ import annotations

import argparse
import os
import sys

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
