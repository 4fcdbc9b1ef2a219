"""The rides domain's settings: where a day's rides come from, and the city they are in."""

from typing import Annotated

from pydantic import AfterValidator, Field

from glimpse_assets.rides.templates import validate_template
from glimpse_assets.settings import Settings, WholeNumber


def _source(value: str) -> str:
    if value.strip().lower() == "simulated":
        return "simulated"
    try:
        return validate_template(value)
    except ValueError as error:
        raise ValueError(f"must be 'simulated' or a TLC file path/URI template: {error}") from None


class RidesSettings(Settings):
    rides_source: Annotated[str, AfterValidator(_source)] = Field(
        "simulated", alias="GLIMPSE_RIDES_SOURCE"
    )
    city: str | None = Field(None, alias="GLIMPSE_RIDES_CITY")
    rides_per_day: Annotated[WholeNumber, Field(ge=0)] = Field(
        10_000, alias="GLIMPSE_RIDES_PER_DAY"
    )
