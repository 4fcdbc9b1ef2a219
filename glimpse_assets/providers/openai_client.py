"""`OpenAIClient`: the settings of the OpenAI SDK's client, for any OpenAI-compatible server.

A thin resource rather than dagster-openai's `OpenAIResource`: the gateway accounts for usage
itself (that resource's usage wrapper updates metadata read-modify-write, unsafe across the
gateway's threads), and the SDK (about 0.6 s to import) loads when the first call is made, not
when the code location loads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
from pydantic import Field


class OpenAIClient(dg.ConfigurableResource):
    api_key: str = Field(description="OPENAI_API_KEY, via dg.EnvVar")
    base_url: str | None = Field(
        default=None, description="OPENAI_BASE_URL: any OpenAI-compatible /v1 address"
    )

    @contextmanager
    def get_client(self) -> Iterator[Any]:
        """An `openai.OpenAI` client for one step's calls, closed afterwards."""
        import openai

        client = openai.OpenAI(api_key=self.api_key, base_url=self.base_url)
        try:
            yield client
        finally:
            client.close()
