"""The rides domain's resources, chosen from its settings: `rides_source`."""

from glimpse_assets.rides.settings import RidesSettings
from glimpse_assets.rides.sources import RidesSource, SimulatedRidesSource, TlcRidesSource


def rides_source(settings: RidesSettings) -> RidesSource:
    city = {"city": settings.city} if settings.city else {}
    conditions = {"conditions": settings.conditions} if settings.conditions else {}
    if settings.rides_source == "simulated":
        return SimulatedRidesSource(rides_per_day=settings.rides_per_day, **city, **conditions)
    return TlcRidesSource(
        template=settings.rides_source, **({"city": "New York City"} | city), **conditions
    )


def rides_resources(settings: RidesSettings) -> dict:
    return {"rides_source": rides_source(settings)}
