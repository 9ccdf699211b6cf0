"""payments settings: ``MOTCUA_PAYMENTS_*`` then ``MOTCUA_*``."""

from motcua.config import service_settings

Settings = service_settings("payments")
