"""`glimpse`: the project's command line. `glimpse serve` runs the HTTP service.

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
    if not settings.api_keys and not args.no_auth:
        _say(NO_KEYS)
        return USAGE_ERROR

    import uvicorn

    from glimpse_assets.serve.app import create_app

    try:
        app = create_app(settings, env=env, no_auth=args.no_auth)
    except ConfigurationError as error:
        _say(f"glimpse serve: {error}")
        return USAGE_ERROR
    if args.no_auth:
        _say(NO_AUTH_WARNING.format(host=args.host, port=args.port))
        if settings.api_keys:
            _say("glimpse serve: GLIMPSE_API_KEYS is set but ignored with --no-auth")
    else:
        count = len(settings.api_keys)
        _say(f"glimpse serve: {count} API key{'s' if count != 1 else ''} accepted")
    _say(f"glimpse serve: http://{args.host}:{args.port}  (OpenAPI at /docs)")
    uvicorn.run(app, host=args.host, port=args.port, server_header=False)
    return 0


def _port(value: str) -> int:
    port = int(value)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (1 to 65535)")
    return port


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
    command.set_defaults(run=serve)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
