"""identity-bridge settings: ``MOTCUA_IDENTITY_BRIDGE_*`` then ``MOTCUA_*``."""

from motcua.config import service_settings

Settings = service_settings("identity-bridge")
