"""workflow settings: ``MOTCUA_WORKFLOW_*`` then ``MOTCUA_*``."""

from motcua.config import service_settings

Settings = service_settings("workflow")
