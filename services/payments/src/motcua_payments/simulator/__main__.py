"""``python -m motcua_payments.simulator``: serve the simulator (port 8110)."""

import uvicorn

from motcua_payments.simulator.app import create_app
from motcua_payments.simulator.config import SimulatorSettings


def main() -> None:
    """Run the simulator until interrupted."""
    settings = SimulatorSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.resolved_port(),
                log_config=None, access_log=False)


if __name__ == "__main__":
    main()
