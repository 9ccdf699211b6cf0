"""`motcua simulate`: a realistic day (or month) of a province, played through the public
HTTP APIs of a running mesh (see docs/simulate.md).

Only HTTP: the simulator imports no service package. Citizens sign in through
identity-bridge's OpenID Connect login against the mesh's identity provider, officers
through the development staff sign-in; every request carries their mesh token.
"""

from motcua.simulate.http import ApiError, HttpStats, Targets
from motcua.simulate.people import SetupError
from motcua.simulate.report import Progress, Report
from motcua.simulate.run import DAY, MONTH_DAYS, SimulationConfig, simulate

__all__ = ["DAY", "MONTH_DAYS", "ApiError", "HttpStats", "Progress", "Report", "SetupError",
           "SimulationConfig", "Targets", "simulate"]
