"""Intake settings: ``MOTCUA_INTAKE_*`` then ``MOTCUA_*``."""

from motcua.config import service_settings

Settings = service_settings("intake")
