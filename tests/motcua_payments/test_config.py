"""Defaults that name another process's address follow the ports (and host) the mesh is
given (``motcua up`` on other ports than the port table's), unless set."""

from __future__ import annotations

import pytest

from motcua_intake.config import Settings as IntakeSettings
from motcua_payments.config import Settings
from motcua_payments.simulator.config import SimulatorSettings


def _addresses() -> tuple[str, ...]:
    payments, simulator = Settings(), SimulatorSettings()
    return (payments.gateway_url, payments.public_base_url, simulator.public_url,
            simulator.default_ipn_url, IntakeSettings().public_base_url)


PORTS = ("PAYMENTS", "PAYMENTS_SIMULATOR", "INTAKE")


@pytest.mark.parametrize(("environment", "expected"), [
    ({}, ("http://127.0.0.1:8110", "http://127.0.0.1:8103", "http://127.0.0.1:8110",
          "http://127.0.0.1:8103/v1/gateway/ipn", "http://127.0.0.1:8101")),
    ({"MOTCUA_PAYMENTS_PORT": "9103", "MOTCUA_PAYMENTS_SIMULATOR_PORT": "9110",
      "MOTCUA_INTAKE_PORT": "9101"},
     ("http://127.0.0.1:9110", "http://127.0.0.1:9103", "http://127.0.0.1:9110",
      "http://127.0.0.1:9103/v1/gateway/ipn", "http://127.0.0.1:9101")),
    # The host the mesh listens on (a wildcard is reached on the loopback).
    ({"MOTCUA_HOST": "0.0.0.0"},
     ("http://127.0.0.1:8110", "http://127.0.0.1:8103", "http://127.0.0.1:8110",
      "http://127.0.0.1:8103/v1/gateway/ipn", "http://127.0.0.1:8101")),
    ({"MOTCUA_HOST": "10.0.0.5"},
     ("http://10.0.0.5:8110", "http://10.0.0.5:8103", "http://10.0.0.5:8110",
      "http://10.0.0.5:8103/v1/gateway/ipn", "http://10.0.0.5:8101")),
], ids=["the port table", "the ports given", "a wildcard host", "a host given"])
def test_addresses_follow_the_ports_and_host(monkeypatch: pytest.MonkeyPatch,
                                             environment: dict[str, str],
                                             expected: tuple[str, ...]) -> None:
    for name in PORTS:
        monkeypatch.delenv(f"MOTCUA_{name}_PORT", raising=False)
    monkeypatch.delenv("MOTCUA_HOST", raising=False)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    assert _addresses() == expected


def test_an_address_set_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTCUA_PAYMENTS_PORT", "9103")
    monkeypatch.setenv("MOTCUA_PAYMENTS_GATEWAY_URL", "https://thanhtoan.example.gov.vn")
    monkeypatch.setenv("MOTCUA_INTAKE_PUBLIC_BASE_URL", "https://dichvucong.example.gov.vn")
    monkeypatch.setenv("MOTCUA_PAYMENTS_SIMULATOR_DEFAULT_IPN_URL", "http://payments/ipn")
    payments = Settings()
    assert payments.gateway_url == "https://thanhtoan.example.gov.vn"
    assert payments.public_base_url == "http://127.0.0.1:9103"
    assert IntakeSettings().public_base_url == "https://dichvucong.example.gov.vn"
    assert SimulatorSettings().default_ipn_url == "http://payments/ipn"


def test_the_init_grace_must_outlast_the_gateway_timeout() -> None:
    """An unsent payment is discarded after ``payment_init_grace_s``; a grace shorter than
    an INIT may take (2 × the timeout) and the database waits around it (30 s) would
    discard payments whose INIT is still on its way."""
    assert Settings(gateway_timeout_s=10, payment_init_grace_s=50).payment_init_grace_s == 50
    with pytest.raises(ValueError, match="payment_init_grace_s"):
        Settings(gateway_timeout_s=10, payment_init_grace_s=49)


PLATFORM = {"gateway_url": "https://thanhtoan.example/api", "gateway_partner_code": "H56",
            "gateway_secret": "p" * 32, "public_base_url": "https://thanhtoan.h56.example"}
KEY = "k" * 40


@pytest.mark.parametrize("left_out", [*PLATFORM, None])
def test_production_needs_the_platform_not_the_simulator(left_out: str | None) -> None:
    """The defaults are the local simulator's, whose secret is public (anyone could sign
    a payment callback with it): in production each must be given."""
    given = {k: v for k, v in PLATFORM.items() if k != left_out}
    if left_out is None:
        settings = Settings(environment="production", owner_ref_key=KEY, **given)
        assert settings.gateway_url == PLATFORM["gateway_url"]
        return
    with pytest.raises(ValueError, match=f"MOTCUA_PAYMENTS_{left_out.upper()}"):
        Settings(environment="production", owner_ref_key=KEY, **given)
    with pytest.raises(ValueError, match=f"MOTCUA_PAYMENTS_{left_out.upper()}"):
        Settings(environment="production", owner_ref_key=KEY, **(given | {left_out: ""}))


@pytest.mark.parametrize("secret", ["motcua-dev-secret", "short-secret"])
def test_production_refuses_the_development_or_a_short_secret(secret: str) -> None:
    with pytest.raises(ValueError, match="MOTCUA_PAYMENTS_GATEWAY_SECRET") as refused:
        Settings(environment="production", owner_ref_key=KEY,
                 **(PLATFORM | {"gateway_secret": secret}))
    assert secret not in str(refused.value)


def test_the_simulator_does_not_run_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    from motcua_payments.simulator.spec import SIMULATOR

    assert SIMULATOR.available()
    monkeypatch.setenv("MOTCUA_ENVIRONMENT", "production")
    monkeypatch.setenv("MOTCUA_OWNER_REF_KEY", KEY)
    assert not SIMULATOR.available()  # `motcua up` skips it
    with pytest.raises(ValueError, match="development and tests only"):
        SimulatorSettings()


def test_the_simulator_misconfigured_is_said_not_skipped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Only production makes `motcua up` skip it; a setting it refuses otherwise is told."""
    from pydantic import ValidationError

    from motcua_payments.simulator.spec import SIMULATOR

    monkeypatch.setenv("MOTCUA_PAYMENTS_SIMULATOR_PORT", "not-a-port")
    with pytest.raises(ValidationError, match="port"):
        SIMULATOR.available()
