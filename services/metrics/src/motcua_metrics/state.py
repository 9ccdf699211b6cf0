"""What the metrics app holds besides the kit's runtime: configuration and projection context."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Request

from motcua.calendar import TIMEZONE, Calendar, load_overrides
from motcua_metrics.config import Settings
from motcua_metrics.facts.service import ProjectionContext
from motcua_metrics.index.config import IndexConfig, Units, load_index_config, load_units


@dataclass
class MetricsState:
    """Configuration read once at start-up, shared by the projection and the API."""

    settings: Settings
    config: IndexConfig
    units: Units
    calendar: Calendar
    projection: ProjectionContext

    def today(self) -> date:
        """Today's business date (Asia/Ho_Chi_Minh)."""
        return datetime.now(TIMEZONE).date()


def build_state(settings: Settings) -> MetricsState:
    """Read the index configuration, the units file and the calendar overrides."""
    config = load_index_config(settings.index_config)
    units = load_units(settings.units_file)
    overrides = load_overrides(settings.calendar_overrides) if settings.calendar_overrides \
        else ()
    calendar = Calendar(overrides=overrides)
    ctx = ProjectionContext(province=settings.province, calendar=calendar, config=config,
                            units=units, national_sync=settings.national_sync)
    return MetricsState(settings, config, units, calendar, ctx)


async def metrics_state(request: Request) -> MetricsState:
    """The app's metrics state."""
    return request.app.state.metrics


StateDep = Annotated[MetricsState, Depends(metrics_state)]
