"""Fixtures for identity-bridge: a real OpenID provider standing in for VNeID.

``oidc-provider-mock`` (a third-party provider built on authlib) runs on a free
loopback port in a thread, with users carrying VNeID-like claims.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from motcua.natsserver import NatsServer
from motcua.testing import Mesh

PID_AN = "038095001234"  # in the bundled synthetic population registry
PID_BINH = "038197004321"
STAFF_EMAIL = "xuly.h56@motcua.test"


@dataclass(frozen=True)
class Provider:
    """The running test provider."""

    url: str

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"


USERS = {
    "vneid-an": {"SoDinhDanh": PID_AN, "HoVaTen": "Nguyễn Văn An",
                 "NgayThangNamSinh": "02/03/1995", "acr": "LoA2", "LoaiTaiKhoan": 1},
    "vneid-binh": {"SoDinhDanh": PID_BINH, "HoVaTen": "Lê Thị Bình",
                   "NgayThangNamSinh": "20/11/1997", "acr": "LoA1", "LoaiTaiKhoan": 1},
    "vneid-bad-id": {"SoDinhDanh": "999095001234", "HoVaTen": "Không Hợp Lệ",
                     "acr": "LoA2"},
    "staff-xuly": {"email": STAFF_EMAIL},
    "staff-stranger": {"email": "nobody@motcua.test"},
}


@pytest.fixture(scope="session")
def provider() -> Iterator[Provider]:
    """A real OpenID Connect provider with VNeID-like users (session-wide)."""
    # The provider refuses plain HTTP unless told this is a test.
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import oidc_provider_mock

    users = [oidc_provider_mock.User(sub=sub, claims=claims) for sub, claims in USERS.items()]
    with oidc_provider_mock.run_server_in_thread(user_claims=users,
                                                 require_nonce=True) as server:
        yield Provider(f"http://localhost:{server.server_port}")


def pytest_configure(config: pytest.Config) -> None:
    # The test provider uses authlib APIs that authlib itself has deprecated.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:authlib")
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:oidc_provider_mock")


@pytest.fixture
async def mesh(nats_server: NatsServer, make_database) -> AsyncIterator[Mesh]:
    """The root ``mesh`` fixture, knowing only identity-bridge.

    Same real NATS and both database backends; it does not import the other services,
    so these tests do not depend on their state.
    """
    from motcua_identity.spec import SERVICE

    m = Mesh(nats_server.url, make_database, specs={SERVICE.name: SERVICE})
    await m.provision()
    yield m
    await m.close()
