"""metrics settings: ``MOTCUA_METRICS_*`` then ``MOTCUA_*``."""

from __future__ import annotations

from pathlib import Path

from motcua.config import service_settings


class Settings(service_settings("metrics")):  # type: ignore[misc]
    """Settings of metrics, on top of every service's own."""

    #: Index weights and thresholds (TOML); empty = the packaged ``index-v2.toml``.
    index_config: Path | None = None
    #: Units (agency → commune, area type, officials, names) as TOML; empty = none.
    units_file: Path | None = None
    #: Holiday and swapped-day notices the ``holidays`` package lacks (TOML or JSON).
    calendar_overrides: Path | None = None
    #: Send national sync records, progress entries and EMC tracking.
    national_sync: bool = True
    #: How often JetStream is asked for pipeline figures (``/metrics``).
    pipeline_poll_s: float = 15.0
    #: How often the index aggregates' pending changes are folded (reads see them anyway).
    aggregate_compact_s: float = 1.0
