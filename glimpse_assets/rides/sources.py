"""Where a day's rides come from: simulated (default) or NYC TLC trip-record files, and which
conditions (weather, traffic) and news rule go with them (see `conditions`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from glimpse_assets.rides.settings import RidesSettings
from glimpse_assets.rides.templates import validate_conditions, validate_template
from glimpse_assets.settings import setting

if TYPE_CHECKING:
    import pandas as pd


class RidesSource(dg.ConfigurableResource, ABC):
    city: str = setting(RidesSettings, "city", default="Port Aldermere")
    # None: the source's own (see default_conditions).
    conditions: str | None = setting(RidesSettings, "conditions")

    @property
    @abstractmethod
    def kind(self) -> str: ...

    @property
    @abstractmethod
    def default_conditions(self) -> str:
        """The weather and traffic used when no conditions source is configured."""

    @property
    @abstractmethod
    def news_by_publication_time(self) -> bool:
        """Whether a block of rides carries the headline of its time (real rides) or the day's
        headlines in turn (simulated rides)."""

    @property
    def clock(self) -> str:
        """The time zone whose wall-clock time the rides' pickup times are."""
        return "UTC"

    @property
    def conditions_source(self) -> str:
        return validate_conditions(self.conditions or self.default_conditions)

    @abstractmethod
    def rides_for_day(self, day: date, rides_per_day: int | None) -> tuple[pd.DataFrame, dict]:
        """The day's rides (ride_id, pickup_at, ride_dist, ride_time, ride_speed, ...) and
        counts of rows dropped as invalid, by reason."""


class SimulatedRidesSource(RidesSource):
    """The original job's ride mix, scaled, seeded by the day (see `simulate`)."""

    rides_per_day: int = setting(RidesSettings, "rides_per_day", ge=0)

    @property
    def kind(self) -> str:
        return "simulated"

    @property
    def default_conditions(self) -> str:
        return "invented"  # invented rides, invented weather and traffic, labelled as such

    @property
    def news_by_publication_time(self) -> bool:
        return False

    def rides_for_day(self, day: date, rides_per_day: int | None) -> tuple[pd.DataFrame, dict]:
        from glimpse_assets.rides.simulate import simulate_rides

        count = self.rides_per_day if rides_per_day is None else rides_per_day
        return simulate_rides(day, count), {}


class TlcRidesSource(RidesSource):
    """NYC TLC yellow trip records from a local or s3:// path template."""

    template: str = Field(description="Path or URI with {date} or {month}, .parquet or .csv")

    timezone: str = Field(
        default="America/New_York",
        description="The zone of the files' wall-clock times, to place headlines on that clock.",
    )

    @property
    def kind(self) -> str:
        return "tlc"

    @property
    def default_conditions(self) -> str:
        return "none"  # a real day gets no invented weather or traffic

    @property
    def news_by_publication_time(self) -> bool:
        return True

    @property
    def clock(self) -> str:
        return self.timezone

    def rides_for_day(self, day: date, rides_per_day: int | None) -> tuple[pd.DataFrame, dict]:
        from glimpse_assets.rides.tlc import load_tlc_rides

        validate_template(self.template)
        return load_tlc_rides(self.template, day)
