"""The deployment files (deploy/) against the services they start: every service must
accept the environment each file gives it, with only the values the file says an
operator supplies. No container engine runs here; what a service would refuse at
start-up is found without one.

Before session 18, both files set ``MOTCUA_ENVIRONMENT=production`` without a
population database for identity-bridge, which refuses its bundled synthetic registry
in production: compose's migration step (which reads every service's settings) failed,
and with it the whole stack; the Kubernetes migration Job also lacked the secrets. And
payments took the simulator's address and its public secret in production, with which
anyone could have forged a payment callback: it now refuses to start without the
platform's.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from motcua import cli, registry

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
#: What an operator must supply (compose asks for them with ``${NAME:?…}``; the
#: Kubernetes files name them in comments): values that pass validation.
OPERATOR = {
    "MOTCUA_OWNER_REF_KEY": "k" * 40,
    "MOTCUA_IDENTITY_BRIDGE_KEY_ENCRYPTION_SECRET": "s" * 40,
    "MOTCUA_IDENTITY_BRIDGE_POPULATION_URL": "https://dancu.example/api/tra-cuu",
    "MOTCUA_PAYMENTS_GATEWAY_URL": "https://thanhtoan.example/api",
    "MOTCUA_PAYMENTS_GATEWAY_PARTNER_CODE": "H56",
    "MOTCUA_PAYMENTS_GATEWAY_SECRET": "p" * 32,
    "MOTCUA_PAYMENTS_PUBLIC_BASE_URL": "https://thanhtoan.h56.example",
}
#: Of those, what the Kubernetes ConfigMap leaves empty for the operator to set.
CONFIG_MAP_BLANKS = {"MOTCUA_IDENTITY_BRIDGE_POPULATION_URL", "MOTCUA_PAYMENTS_GATEWAY_URL",
                     "MOTCUA_PAYMENTS_GATEWAY_PARTNER_CODE", "MOTCUA_PAYMENTS_PUBLIC_BASE_URL"}
_REFERENCE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def _interpolate(value: str, given: dict[str, str]) -> str:
    """Compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?message}``."""
    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if name in given:
            return given[name]
        if kind == "?":
            raise AssertionError(f"compose needs {name}: {rest}")
        return rest if kind == "-" else ""
    return _REFERENCE.sub(one, value)


def _settings_of_every_service(environment: dict[str, str],
                               monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for key in list(os.environ):
        if key.startswith("MOTCUA_"):
            monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    return {name: spec.settings() for name, spec in registry.discover().items()}


def test_compose_gives_every_service_settings_it_accepts(monkeypatch) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    shared = {k: _interpolate(str(v), OPERATOR)
              for k, v in compose["x-service"]["environment"].items()}
    assert shared["MOTCUA_ENVIRONMENT"] == "production"
    served = set()
    for service in compose["services"].values():
        command = service.get("command")
        if not (isinstance(command, list) and command[:1] == ["serve"]):
            continue
        served.add(command[1])
        own = {k: _interpolate(str(v), OPERATOR) for k, v in service["environment"].items()
               if not k.startswith("<<")}
        settings = _settings_of_every_service(shared | own, monkeypatch)[command[1]]
        assert settings.environment == "production"
        assert settings.resolved_port() == int(service["ports"][0].split(":")[1])
    assert served == set(registry.discover())
    # The migration step reads every service's settings from the shared environment.
    assert set(_settings_of_every_service(shared, monkeypatch)) == served


def test_compose_says_what_an_operator_must_supply() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    required = {name for value in compose["x-service"]["environment"].values()
                for name, kind, _ in _REFERENCE.findall(str(value)) if kind == "?"}
    assert required == set(OPERATOR)


def test_kubernetes_gives_every_service_settings_it_accepts(monkeypatch) -> None:
    documents = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "motcua.yaml").read_text()))
    [config] = [d for d in documents if d and d["kind"] == "ConfigMap"]
    data = {k: str(v) for k, v in config["data"].items()}
    # Left for the operator to set: until then the services that need them refuse.
    assert {k for k, v in data.items() if v == ""} == CONFIG_MAP_BLANKS
    for blank in CONFIG_MAP_BLANKS:
        with pytest.raises(ValidationError):
            _settings_of_every_service(data | OPERATOR | {blank: ""}, monkeypatch)
    supplied = data | OPERATOR  # motcua-secrets and the ConfigMap's blanks set
    settings = _settings_of_every_service(supplied, monkeypatch)
    assert {s.environment for s in settings.values()} == {"production"}
    # Every pod that reads settings (the Job reads all of them) gets the secrets.
    for doc in documents:
        if not doc or doc["kind"] not in ("Job", "Deployment"):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            sources = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
            assert {"motcua", "motcua-databases", "motcua-secrets"} <= sources, doc["kind"]


def test_migrate_names_a_setting_it_cannot_accept_and_changes_nothing(
        monkeypatch, tmp_path: Path, capsys) -> None:
    """Production without its secrets: what to set, no traceback, no value printed, and
    no service migrated (all settings are read before any database is touched)."""
    for key in list(os.environ):
        if key.startswith("MOTCUA_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("MOTCUA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MOTCUA_ENVIRONMENT", "production")
    monkeypatch.setenv("MOTCUA_OWNER_REF_KEY", OPERATOR["MOTCUA_OWNER_REF_KEY"])
    monkeypatch.setenv("MOTCUA_IDENTITY_BRIDGE_KEY_ENCRYPTION_SECRET", "secret-value-" * 3)
    assert cli.main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert "(identity-bridge)" in err and "MOTCUA_IDENTITY_BRIDGE_POPULATION_URL" in err
    assert "(payments)" in err and "MOTCUA_PAYMENTS_GATEWAY_SECRET" in err
    assert "Traceback" not in err
    assert "secret-value-" not in err and OPERATOR["MOTCUA_OWNER_REF_KEY"] not in err
    assert list(tmp_path.glob("*.db")) == []
