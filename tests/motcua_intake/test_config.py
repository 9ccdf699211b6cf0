"""Intake's settings in production: its public address is printed on every receipt."""

from __future__ import annotations

import pytest

from motcua_intake.config import Settings

KEY = "k" * 40


@pytest.mark.parametrize("given", [{}, {"public_base_url": ""}])
def test_production_needs_the_public_address(given: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="MOTCUA_INTAKE_PUBLIC_BASE_URL"):
        Settings(environment="production", owner_ref_key=KEY, **given)


def test_production_takes_the_address_given() -> None:
    settings = Settings(environment="production", owner_ref_key=KEY,
                        public_base_url="https://dichvucong.h56.example")
    assert settings.public_base_url == "https://dichvucong.h56.example"


def test_elsewhere_the_default_is_this_host_at_intakes_port(monkeypatch) -> None:
    monkeypatch.setenv("MOTCUA_INTAKE_PORT", "9101")
    assert Settings().public_base_url == "http://127.0.0.1:9101"
