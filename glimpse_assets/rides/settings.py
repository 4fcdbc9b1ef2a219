"""The rides domain's settings: where a day's rides come from, the city they are in, and where
their weather and traffic come from."""

from typing import Annotated

from pydantic import AfterValidator, Field

from glimpse_assets.rides.templates import validate_conditions, validate_template
from glimpse_assets.settings import Settings, WholeNumber, shown_as


@shown_as("`simulated`, or a `.parquet`/`.csv` path or URI template with `{date}` or `{month}`")
def _source(value: str) -> str:
    if value.strip().lower() == "simulated":
        return "simulated"
    try:
        return validate_template(value)
    except ValueError as error:
        raise ValueError(f"must be 'simulated' or a TLC file path/URI template: {error}") from None


@shown_as(
    "`invented`, `none`, or a `.parquet`/`.csv` path or URI template with `{date}` or `{month}`"
)
def _conditions(value: str | None) -> str | None:
    return None if value is None else validate_conditions(value)


class RidesSettings(Settings):
    """Where a day's rides come from, the city they are in, and their weather and traffic."""

    rides_source: Annotated[str, AfterValidator(_source)] = Field(
        "simulated",
        alias="GLIMPSE_RIDES_SOURCE",
        description="`simulated` (invented rides, offline) or NYC TLC trip records: a file per "
        "day or month, local or on S3/HTTP.",
    )
    city: str | None = Field(
        None,
        alias="GLIMPSE_RIDES_CITY",
        description="The city named in the summaries; unset: Port Aldermere (TLC rides: New "
        "York City).",
    )
    rides_per_day: Annotated[WholeNumber, Field(ge=0)] = Field(
        10_000,
        alias="GLIMPSE_RIDES_PER_DAY",
        description="How many rides a simulated day has.",
    )
    conditions: Annotated[str | None, AfterValidator(_conditions)] = Field(
        None,
        alias="GLIMPSE_RIDES_CONDITIONS",
        description="Each hour's weather and traffic: `invented`, `none` (not known) or a file "
        "with columns `time,weather,traffic`; unset: invented for simulated rides, none for TLC "
        "rides.",
    )
