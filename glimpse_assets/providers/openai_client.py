"""`OpenAIClient`: dagster-openai's `OpenAIResource`, the resource configured for any
OpenAI-compatible server (`api_key`, `base_url`, `organization`, `project`).

It is an `OpenAIResource` (the code location shows it as `openai`, with that resource's fields)
whose `get_client` makes the SDK client from those fields for one batch of calls, inside a run or
outside one (the service answers an SMS with no run, so no `setup_for_execution`), instead of
wrapping a shared client's endpoints for usage metadata. The gateway (`llm.gateway`) calls from
its own threads, through `with_options` copies (which drop such wrappers), with a cache whose
hits are no calls; it counts the requests it sends and writes the same `openai.<model>.*` keys
dagster-openai's `with_usage_metadata` writes (`gateway.CallStats.metadata`), images and
moderations included.

dagster-openai imports the SDK (about 0.6 s), so this module is imported only when a provider
or the embeddings are `openai`, never by the offline default's code location.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
from dagster_openai import OpenAIResource


class OpenAIClient(OpenAIResource):
    """dagster-openai's OpenAIResource; see the module docstring."""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """No long-lived client: each batch of calls gets its own (`get_client`)."""

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Nothing to close: `get_client` closes the client it made."""

    def sdk_client(self) -> Any:
        """An `openai.OpenAI` client for this resource's server, key, organisation and project.
        A `dg.EnvVar` key not yet resolved (outside a run) is read now."""
        import openai

        key = self.api_key
        if isinstance(key, dg.EnvVar):
            key = key.get_value() or ""
        return openai.OpenAI(
            api_key=key,
            base_url=self.base_url,
            organization=self.organization,
            project=self.project,
        )

    @contextmanager
    def get_client(self, context: Any = None) -> Iterator[Any]:  # type: ignore[override]
        """An `openai.OpenAI` client for one batch of calls, closed afterwards; `context` (a
        step's, or None outside a run) is accepted as OpenAIResource's is, and not used: the
        gateway records the usage itself."""
        client = self.sdk_client()
        try:
            yield client
        finally:
            client.close()

    def with_api_key(self, api_key: str) -> OpenAIClient:
        """The same settings with the key itself (what the service uses outside a run)."""
        return type(self)(
            api_key=api_key,
            base_url=self.base_url,
            organization=self.organization,
            project=self.project,
        )
