"""Synthetic citizens and how everybody signs in.

Citizens sign in the way a citizen portal signs them in: ``POST /v1/auth/logins`` at
identity-bridge, the identity provider's authorization page (the simulator acts as the
browser: it opens the page and picks the user), then ``POST /v1/auth/callback`` with the
code and state. The provider of a local mesh is ``oidc-provider-mock`` (the
``vneid-simulator`` `motcua up` starts); the simulator first registers each synthetic
citizen there with VNeID-style claims through the mock's ``PUT /users/{sub}``.

Officers use identity-bridge's development sign-in (``POST /v1/auth/dev-login``) as the
sample staff `motcua up` seeds: ``<role>.<unit>`` (``receptionist.01`` for
``000.01.17.<province>``) with the development password.

Tokens live ``expires_in`` seconds (10 minutes by default); a token about to expire is
replaced by signing in again.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import parse_qs, urlsplit

from motcua import idnumbers
from motcua.simulate.http import BROWSER, Api

#: Refresh a token this long before it expires.
REFRESH_MARGIN_S = 90.0
#: Role → username prefix of the sample staff.
ROLE_PREFIX = {"receptionist": "receptionist", "processor": "processor",
               "approver": "approver", "agency_admin": "admin", "auditor": "auditor"}

_FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
           "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý")
_MIDDLE_M = ("Văn", "Hữu", "Đức", "Minh", "Quang", "Thành", "Công")
_MIDDLE_F = ("Thị", "Ngọc", "Thu", "Thanh", "Kim", "Diệu", "Mai")
_GIVEN_M = ("An", "Bình", "Cường", "Dũng", "Hùng", "Khoa", "Long", "Nam", "Phúc", "Quân",
            "Sơn", "Tuấn", "Việt")
_GIVEN_F = ("Anh", "Chi", "Dung", "Hà", "Hạnh", "Hương", "Lan", "Linh", "Ngân", "Nhung",
            "Phương", "Trang", "Yến")
#: Birth-registration provinces of the synthetic citizens (mostly the local one).
_PROVINCES = ("038", "038", "038", "038", "040", "001", "036", "079")


@dataclass(frozen=True)
class Citizen:
    """A synthetic citizen with a valid 12-digit personal ID."""

    personal_id: str
    full_name: str
    birth_date: date
    gender: str
    phone: str
    #: Assurance level of their identity account (VNeID level 1 or 2).
    loa: int

    @property
    def subject(self) -> str:
        """Their subject at the identity provider (no personal ID in it)."""
        return "sim-" + hashlib.sha256(self.personal_id.encode()).hexdigest()[:20]

    def claims(self) -> dict[str, object]:
        """VNeID-style claims as the provider releases them."""
        return {"SoDinhDanh": self.personal_id, "HoVaTen": self.full_name,
                "NgayThangNamSinh": self.birth_date.strftime("%d/%m/%Y"),
                "acr": f"LoA{self.loa}", "LoaiTaiKhoan": 1}


def personal_id(rng: random.Random, province: str, born: date, gender: str) -> str:
    """A well-formed personal ID: ``PPP G YY RRRRRR`` (checked with motcua.idnumbers)."""
    century = (born.year // 100) - 19
    g = century * 2 + (0 if gender == "male" else 1)
    while True:
        number = f"{province}{g}{born.year % 100:02d}{rng.randrange(1_000_000):06d}"
        if idnumbers.validate(number, birth_date=born, gender=gender).valid:  # type: ignore[arg-type]
            return number


def make_citizens(seed: int | str, count: int) -> list[Citizen]:
    """``count`` distinct synthetic citizens, the same for the same seed."""
    rng = random.Random(f"{seed}/citizens")
    citizens: list[Citizen] = []
    seen: set[str] = set()
    while len(citizens) < count:
        gender = rng.choice(("male", "female"))
        born = date(rng.randint(1950, 2006), rng.randint(1, 12), rng.randint(1, 28))
        number = personal_id(rng, rng.choice(_PROVINCES), born, gender)
        if number in seen:
            continue
        seen.add(number)
        middle = _MIDDLE_M if gender == "male" else _MIDDLE_F
        given = _GIVEN_M if gender == "male" else _GIVEN_F
        name = f"{rng.choice(_FAMILY)} {rng.choice(middle)} {rng.choice(given)}"
        phone = "09" + f"{rng.randrange(100_000_000):08d}"
        citizens.append(Citizen(number, name, born, gender, phone,
                                loa=2 if rng.random() < 0.85 else 1))
    return citizens


@dataclass
class _Token:
    value: str
    expires_at: float
    agencies: dict[str, list[str]] = field(default_factory=dict)

    def fresh(self) -> bool:
        return time.monotonic() < self.expires_at - REFRESH_MARGIN_S


class SetupError(Exception):
    """The mesh is not set up for a simulation (no sample staff, no citizen sign-in …)."""


class SignIn:
    """Tokens for officers (dev-login) and citizens (OpenID Connect), cached until near
    expiry."""

    def __init__(self, api: Api, *, password: str, username_format: str = "{prefix}.{unit}",
                 register_citizens: bool = True) -> None:
        self.api = api
        self.password = password
        self.username_format = username_format
        self.register_citizens = register_citizens
        self._tokens: dict[str, _Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._registered: set[str] = set()
        #: Sign-ins done: ("officer" | "citizen") → count.
        self.counts: dict[str, int] = {"officer": 0, "citizen": 0}

    def username(self, agency_code: str, role: str) -> str:
        """The sample officer holding ``role`` in ``agency_code``."""
        return self.username_format.format(prefix=ROLE_PREFIX[role],
                                           unit=agency_code.split(".")[1], role=role,
                                           agency=agency_code)

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    async def officer(self, agency_code: str, role: str) -> str:
        """A token of the officer holding ``role`` in ``agency_code``."""
        username = self.username(agency_code, role)
        name = f"officer:{username}"
        async with self._lock(name):
            token = self._tokens.get(name)
            if token is None or not token.fresh():
                body = await self.api.json(
                    "identity-bridge", "POST", "/v1/auth/dev-login",
                    json={"username": username, "password": self.password}, retry=True)
                held = body.get("agencies", {})
                if role not in held.get(agency_code, []):
                    raise SetupError(f"{username} signed in without the role {role} in "
                                     f"{agency_code} (has {held})")
                token = _Token(body["access_token"],
                               time.monotonic() + float(body["expires_in"]), held)
                self._tokens[name] = token
                self.counts["officer"] += 1
            return token.value

    async def citizen(self, citizen: Citizen) -> str:
        """A token of ``citizen``, signing in through the identity provider."""
        name = f"citizen:{citizen.subject}"
        async with self._lock(name):
            token = self._tokens.get(name)
            if token is None or not token.fresh():
                token = await self._oidc(citizen)
                self._tokens[name] = token
                self.counts["citizen"] += 1
            return token.value

    async def _oidc(self, citizen: Citizen) -> _Token:
        started = await self.api.json("identity-bridge", "POST", "/v1/auth/logins",
                                      json={"audience": "citizen"}, ok=(201,), retry=True)
        url = started["authorization_url"]
        parts = urlsplit(url)
        provider = f"{parts.scheme}://{parts.netloc}"
        if self.register_citizens and citizen.subject not in self._registered:
            # The stand-in provider's own API: this person has a VNeID account.
            await self.api.call(BROWSER, "PUT", f"{provider}/users/{citizen.subject}",
                                route="vneid PUT /users/{sub}", json=citizen.claims(),
                                ok=(200, 204), retry=True)
            self._registered.add(citizen.subject)
        await self.api.call(BROWSER, "GET", url, route="vneid GET /oauth2/authorize")
        answer = await self.api.call(BROWSER, "POST", url, route="vneid POST /oauth2/authorize",
                                     data={"sub": citizen.subject}, ok=(302, 303))
        returned = {k: v[0] for k, v in
                    parse_qs(urlsplit(answer.headers["location"]).query).items()}
        if returned.get("state") != started["state"] or "code" not in returned:
            raise SetupError(f"the identity provider answered {sorted(returned)}")
        body = await self.api.json("identity-bridge", "POST", "/v1/auth/callback",
                                   json={"state": returned["state"], "code": returned["code"]})
        return _Token(body["access_token"], time.monotonic() + float(body["expires_in"]))
