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
    "MOTCUA_INTAKE_PUBLIC_BASE_URL": "https://dichvucong.h56.example",
}
#: A service's own secrets, which no other service's container gets.
OWN_SECRETS = {"identity-bridge": {"MOTCUA_IDENTITY_BRIDGE_KEY_ENCRYPTION_SECRET",
                                   "MOTCUA_IDENTITY_BRIDGE_POPULATION_API_KEY"},
               "payments": {"MOTCUA_PAYMENTS_GATEWAY_SECRET"}}
#: Of those, what the Kubernetes ConfigMap leaves empty for the operator to set.
CONFIG_MAP_BLANKS = {"MOTCUA_IDENTITY_BRIDGE_POPULATION_URL", "MOTCUA_PAYMENTS_GATEWAY_URL",
                     "MOTCUA_PAYMENTS_GATEWAY_PARTNER_CODE", "MOTCUA_PAYMENTS_PUBLIC_BASE_URL",
                     "MOTCUA_INTAKE_PUBLIC_BASE_URL"}
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


def _settings_of_every_service(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                               only: str | None = None) -> dict[str, Any]:
    for key in list(os.environ):
        if key.startswith("MOTCUA_"):
            monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    return {name: spec.settings() for name, spec in registry.discover().items()
            if only in (None, name)}


def test_compose_gives_every_service_settings_it_accepts(monkeypatch) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # merges <<: keys
    served = set()
    for service in compose["services"].values():
        command = service.get("command")
        if not (isinstance(command, list) and command[:1] == ["serve"]):
            continue
        name = command[1]
        served.add(name)
        environment = {k: _interpolate(str(v), OPERATOR)
                       for k, v in service["environment"].items()}
        settings = _settings_of_every_service(environment, monkeypatch, only=name)[name]
        assert settings.environment == "production"
        assert settings.resolved_port() == int(service["ports"][0].split(":")[1])
        others = set().union(*(v for k, v in OWN_SECRETS.items() if k != name))
        assert not others & set(environment), f"{name} gets another service's secret"
    assert served == set(registry.discover())
    # The migration step reads every service's settings: it gets every secret.
    migrate = {k: _interpolate(str(v), OPERATOR)
               for k, v in compose["services"]["migrate"]["environment"].items()}
    assert set(_settings_of_every_service(migrate, monkeypatch)) == served


def test_compose_says_what_an_operator_must_supply() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    required = {name for name, kind, _ in _REFERENCE.findall(text) if kind == "?"}
    assert required == set(OPERATOR)


def test_the_image_runs_its_programs_where_it_built_them() -> None:
    """uv writes the virtual environment's absolute path into its scripts' first line
    (``#!/…/.venv/bin/python``): the build stage must build it where the image keeps it."""
    lines = (DEPLOY / "Containerfile").read_text().splitlines()
    stages = "\n".join(lines).split("\nFROM ")
    build = next(stage for stage in stages if " AS build" in stage.splitlines()[0])
    [workdir] = [line.split()[1] for line in build.splitlines() if line.startswith("WORKDIR")]
    [copy] = [line.split() for line in lines if line.startswith("COPY --from=build")]
    assert copy[2] == f"{workdir}/.venv" == copy[3], copy


#: What each Kubernetes Secret holds (deploy/kubernetes/motcua.yaml's comments).
SECRETS = {"motcua-secrets": {"MOTCUA_OWNER_REF_KEY"},
           "motcua-identity-bridge-secrets": OWN_SECRETS["identity-bridge"],
           "motcua-payments-secrets": OWN_SECRETS["payments"]}


def test_kubernetes_gives_every_service_settings_it_accepts(monkeypatch) -> None:
    documents = [d for d in yaml.safe_load_all(
        (DEPLOY / "kubernetes" / "motcua.yaml").read_text()) if d]
    [config] = [d for d in documents if d["kind"] == "ConfigMap"]
    data = {k: str(v) for k, v in config["data"].items()}
    # Left for the operator to set: until then the services that need them refuse.
    assert {k for k, v in data.items() if v == ""} == CONFIG_MAP_BLANKS
    for blank in CONFIG_MAP_BLANKS:
        with pytest.raises(ValidationError):
            _settings_of_every_service(data | OPERATOR | {blank: ""}, monkeypatch)
    set_by_operator = data | {k: OPERATOR[k] for k in CONFIG_MAP_BLANKS}

    def environment(doc: dict[str, Any]) -> tuple[dict[str, str], set[str]]:
        [container] = doc["spec"]["template"]["spec"]["containers"]
        names = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
        assert {"motcua", "motcua-databases"} <= names
        secrets = set().union(*(SECRETS[n] for n in names if n in SECRETS))
        given = set_by_operator | {k: v for k, v in OPERATOR.items() if k in secrets}
        # motcua-databases: each service's own URL (the default would be SQLite).
        return given, secrets

    # The Job reads every service's settings: it gets every Secret.
    [job] = [d for d in documents if d["kind"] == "Job"]
    given, secrets = environment(job)
    assert secrets == set().union(*SECRETS.values())
    assert set(_settings_of_every_service(given, monkeypatch)) == set(registry.discover())
    # One Deployment and Service per service, each with only its own secrets.
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    services = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Service"}
    assert set(deployments) == set(services) == set(registry.discover())
    for name, doc in deployments.items():
        given, secrets = environment(doc)
        others = set().union(*(v for k, v in OWN_SECRETS.items() if k != name))
        assert not others & secrets, f"{name} gets another service's secret"
        settings = _settings_of_every_service(given, monkeypatch, only=name)[name]
        assert settings.environment == "production"
        [container] = doc["spec"]["template"]["spec"]["containers"]
        port = settings.resolved_port()
        assert container["args"] == ["serve", name]
        assert container["ports"] == [{"containerPort": port}]
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}
        assert services[name]["spec"]["ports"] == [{"port": port, "targetPort": port}]


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


def test_a_refused_setting_is_never_repeated_in_the_error(monkeypatch) -> None:
    """A value put in the wrong variable may be a secret: the error names the setting
    and what is wrong, never the value (it would otherwise end up in a log)."""
    monkeypatch.setenv("MOTCUA_PAYMENTS_GATEWAY_TIMEOUT_S", "pa55word-meant-elsewhere")
    with pytest.raises(ValidationError) as refused:
        registry.load("payments").settings()
    assert "gateway_timeout_s" in str(refused.value)
    assert "pa55word" not in str(refused.value)
