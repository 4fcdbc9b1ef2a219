"""The rides domain's settings: where a day's rides come from, the city they are in, and where
their weather and traffic come from."""

from typing import Annotated

from pydantic import AfterValidator, Field

from glimpse_assets.rides.templates import validate_conditions, validate_template
from glimpse_assets.settings import Settings, WholeNumber


def _source(value: str) -> str:
    if value.strip().lower() == "simulated":
        return "simulated"
    try:
        return validate_template(value)
    except ValueError as error:
        raise ValueError(f"must be 'simulated' or a TLC file path/URI template: {error}") from None


def _conditions(value: str | None) -> str | None:
    return None if value is None else validate_conditions(value)


class RidesSettings(Settings):
    rides_source: Annotated[str, AfterValidator(_source)] = Field(
        "simulated", alias="GLIMPSE_RIDES_SOURCE"
    )
    city: str | None = Field(None, alias="GLIMPSE_RIDES_CITY")
    rides_per_day: Annotated[WholeNumber, Field(ge=0)] = Field(
        10_000, alias="GLIMPSE_RIDES_PER_DAY"
    )
    # Unset: invented for simulated rides, "none" (not known) for TLC rides.
    conditions: Annotated[str | None, AfterValidator(_conditions)] = Field(
        None, alias="GLIMPSE_RIDES_CONDITIONS"
    )
