"""metrics settings: ``MOTCUA_METRICS_*`` then ``MOTCUA_*``."""

from motcua.config import service_settings

Settings = service_settings("metrics")
