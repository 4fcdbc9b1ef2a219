"""Where a day's rides come from: simulated (default) or NYC TLC trip-record files."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from glimpse_assets.rides.templates import validate_template

if TYPE_CHECKING:
    import pandas as pd


class RidesSource(dg.ConfigurableResource, ABC):
    city: str = Field(default="Port Aldermere", description="GLIMPSE_RIDES_CITY, for summaries")

    @property
    @abstractmethod
    def kind(self) -> str: ...

    @abstractmethod
    def rides_for_day(self, day: date, rides_per_day: int | None) -> tuple[pd.DataFrame, dict]:
        """The day's rides (ride_id, pickup_at, ride_dist, ride_time, ride_speed, ...) and
        counts of rows dropped as invalid, by reason."""


class SimulatedRidesSource(RidesSource):
    """The original job's ride mix, scaled, seeded by the day (see `simulate`)."""

    rides_per_day: int = Field(default=10_000, ge=0, description="GLIMPSE_RIDES_PER_DAY")

    @property
    def kind(self) -> str:
        return "simulated"

    def rides_for_day(self, day: date, rides_per_day: int | None) -> tuple[pd.DataFrame, dict]:
        from glimpse_assets.rides.simulate import simulate_rides

        count = self.rides_per_day if rides_per_day is None else rides_per_day
        return simulate_rides(day, count), {}


class TlcRidesSource(RidesSource):
    """NYC TLC yellow trip records from a local or s3:// path template."""

    template: str = Field(description="Path or URI with {date} or {month}, .parquet or .csv")

    @property
    def kind(self) -> str:
        return "tlc"

    def rides_for_day(self, day: date, rides_per_day: int | None) -> tuple[pd.DataFrame, dict]:
        from glimpse_assets.rides.tlc import load_tlc_rides

        validate_template(self.template)
        return load_tlc_rides(self.template, day)
