"""The service's settings: its API keys and the per-key rate limit.

The keys are read as settings (not through `dg.EnvVar`: the service is not a Dagster run), so no
validation error may quote them; the rules on them are model rules, whose messages name only the
variable. A key must be printable ASCII: a header reaches the service decoded as latin-1, so a
key with any other character could never match.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from glimpse_assets.settings import SECRET, CommaList, OnOff, Settings, WholeNumber

MIN_KEY_LENGTH = 16
MAKE_A_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
PerSecond = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class ServeSettings(Settings):
    """`glimpse serve`'s API keys and the rate limit each key gets."""

    api_keys: Annotated[CommaList, SECRET] = Field(
        default_factory=list,
        alias="GLIMPSE_API_KEYS",
        description="The API keys `glimpse serve` accepts in the X-API-Key header, each at least "
        f"{MIN_KEY_LENGTH} printable ASCII characters; make one with `{MAKE_A_KEY}`.",
    )
    rate_limit_per_second: PerSecond = Field(
        100.0,
        alias="GLIMPSE_RATE_LIMIT_PER_SECOND",
        description="The requests a second each key may make, on average.",
    )
    rate_limit_burst: Annotated[WholeNumber, Field(ge=1)] = Field(
        200,
        alias="GLIMPSE_RATE_LIMIT_BURST",
        description="The requests each key may make at once, before the average applies.",
    )
    ask_seconds: Annotated[float, Field(gt=0, le=60)] = Field(
        10.0,
        alias="GLIMPSE_ASK_SECONDS",
        description="The bound of `GET /ask`: this long after a question arrived its answer "
        "goes, the model's or else the extractive one from the best search hit.",
    )

    auth: OnOff = Field(
        "on",
        alias="GLIMPSE_SERVE_AUTH",
        description="`off`: every route is served without an API key, under one shared rate "
        "limit, as with `glimpse serve --no-auth` (which sets it for its worker processes); a "
        "warning is printed at start.",
    )

    def __repr__(self) -> str:  # never the keys, even in a traceback or a debugger
        return (
            f"ServeSettings(api_keys=<{len(self.api_keys)} keys>, "
            f"rate_limit_per_second={self.rate_limit_per_second}, "
            f"rate_limit_burst={self.rate_limit_burst})"
        )

    __str__ = __repr__

    @model_validator(mode="after")
    def _keys_long_enough(self) -> Self:
        short = sum(len(key) < MIN_KEY_LENGTH for key in self.api_keys)
        if short:
            raise ValueError(
                f"GLIMPSE_API_KEYS: {short} of {len(self.api_keys)} keys are shorter than "
                f"{MIN_KEY_LENGTH} characters; make each one with {MAKE_A_KEY}"
            )
        return self

    @model_validator(mode="after")
    def _keys_fit_a_header(self) -> Self:
        unusable = sum(not (key.isascii() and key.isprintable()) for key in self.api_keys)
        if unusable:
            raise ValueError(
                f"GLIMPSE_API_KEYS: {unusable} of {len(self.api_keys)} keys hold characters "
                "other than printable ASCII, which an X-API-Key header cannot carry (it is read "
                f"as latin-1), so they could never match; make each one with {MAKE_A_KEY}"
            )
        return self
