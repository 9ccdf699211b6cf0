"""Defaults that name another process's address follow the ports the mesh is given
(``motcua up`` on other ports than the port table's), unless set."""

from __future__ import annotations

import pytest

from motcua_intake.config import Settings as IntakeSettings
from motcua_payments.config import Settings
from motcua_payments.simulator.config import SimulatorSettings


def _addresses() -> tuple[str, ...]:
    payments, simulator = Settings(), SimulatorSettings()
    return (payments.gateway_url, payments.public_base_url, simulator.public_url,
            simulator.default_ipn_url, IntakeSettings().public_base_url)


def test_the_port_table_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PAYMENTS", "PAYMENTS_SIMULATOR", "INTAKE"):
        monkeypatch.delenv(f"MOTCUA_{name}_PORT", raising=False)
    assert _addresses() == ("http://127.0.0.1:8110", "http://127.0.0.1:8103",
                            "http://127.0.0.1:8110", "http://127.0.0.1:8103/v1/gateway/ipn",
                            "http://127.0.0.1:8101")


def test_addresses_follow_the_ports_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTCUA_PAYMENTS_PORT", "9103")
    monkeypatch.setenv("MOTCUA_PAYMENTS_SIMULATOR_PORT", "9110")
    monkeypatch.setenv("MOTCUA_INTAKE_PORT", "9101")
    assert _addresses() == ("http://127.0.0.1:9110", "http://127.0.0.1:9103",
                            "http://127.0.0.1:9110", "http://127.0.0.1:9103/v1/gateway/ipn",
                            "http://127.0.0.1:9101")


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
