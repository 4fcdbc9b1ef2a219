"""`glimpse serve --workers N`: N uvicorn worker processes, each with the app built from the
environment (uvicorn starts workers from an import string, not an app object).

The parent checks the settings and builds the app once before the workers start, so a bad setting
is still one line and exit status 2, not workers failing in a loop. `--no-auth` reaches the
workers as the setting `GLIMPSE_SERVE_AUTH=off`.

What each worker holds in memory is its own: the per-key rate limit (a key may make up to N times
`GLIMPSE_RATE_LIMIT_PER_SECOND` in all, at most the limit on one connection, which stays on one
worker), the answer caches and query vectors, and, with SMS on, each sender's hourly limit and
last exchanges (a follow-up that reaches another worker is answered without the earlier ones: the
default stays one worker). An SMS retry is answered once whichever worker it reaches: the reply
is claimed and stored under `_sms/replies/` (`sms.inbound`), and a retry on another worker waits
for it (past the reply deadline, the extractive answer without the model).
"""

from __future__ import annotations

import os

from fastapi import FastAPI

APP_FACTORY = "glimpse_assets.serve.workers:worker_app"


def worker_app() -> FastAPI:
    """The app a worker serves: settings and routes from the environment, as the parent had."""
    from glimpse_assets.serve.app import create_app
    from glimpse_assets.serve.settings import ServeSettings

    env = os.environ
    settings = ServeSettings.from_env(env)
    return create_app(settings, env=env, no_auth=settings.auth == "off")
