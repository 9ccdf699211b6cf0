"""The key ring: one current ES256 key signs, the previous one still verifies.

Private keys are kept in the database, sealed with ``key_encryption_secret`` (JWE
``dir``/A256GCM) when it is set — production requires it. Rotation demotes the current
key to ``previous`` (still published, so tokens it signed stay valid until they expire)
and retires the one before; tokens live minutes and keys rotate every few weeks.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from joserfc import jwe
from joserfc.jwk import ECKey, KeySet, OctKey
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from motcua.db import utcnow
from motcua.logging import get_logger
from motcua_identity.keys.models import CURRENT, PREVIOUS, RETIRED, SigningKey

log = get_logger("motcua_identity.keys")
ALG = "ES256"
_SEAL = ["dir", "A256GCM"]


@dataclass(frozen=True)
class Rotation:
    """The outcome of a rotation."""

    kid: str
    previous_kid: str | None


class KeyRing:
    """Signing keys stored in the service's database."""

    def __init__(self, encryption_secret: str | None) -> None:
        self._kek = OctKey.import_key(hashlib.sha256(encryption_secret.encode()).digest()) \
            if encryption_secret else None
        self._opened: dict[str, ECKey] = {}
        #: Bumped by every rotation here, so local caches of public keys are dropped.
        self.generation = 0

    def _new_row(self) -> SigningKey:
        key = ECKey.generate_key("P-256", parameters={"alg": ALG, "use": "sig"}, private=True,
                                 auto_kid=True)
        private = json.dumps(key.as_dict(private=True))
        if self._kek is not None:
            private = jwe.encrypt_compact({"alg": "dir", "enc": "A256GCM"}, private.encode(),
                                          self._kek, algorithms=_SEAL)
        return SigningKey(kid=key.kid, alg=ALG, status=CURRENT,
                          public_jwk=json.dumps(key.as_dict(private=False)),
                          private_jwk=private, encrypted=self._kek is not None,
                          created_at=utcnow(), retired_at=None)

    def _open(self, row: SigningKey) -> ECKey:
        if row.kid not in self._opened:
            text = row.private_jwk
            if row.encrypted:
                if self._kek is None:
                    raise RuntimeError("signing keys are encrypted: set key_encryption_secret")
                text = jwe.decrypt_compact(text, self._kek, algorithms=_SEAL).plaintext.decode()
            self._opened[row.kid] = ECKey.import_key(json.loads(text))
        return self._opened[row.kid]

    async def _current(self, session: AsyncSession, *, lock: bool = False) -> SigningKey | None:
        stmt = select(SigningKey).where(SigningKey.status == CURRENT)
        if lock:
            stmt = stmt.with_for_update()
        return (await session.execute(stmt)).scalar_one_or_none()

    async def ensure_current(self, session: AsyncSession) -> SigningKey:
        """The current key, created when there is none (safe with concurrent replicas)."""
        row = await self._current(session)
        if row is not None:
            return row
        try:
            async with session.begin_nested():
                row = self._new_row()
                session.add(row)
            log.info("signing_key_created", kid=row.kid)
            return row
        except IntegrityError:
            # Another replica created it first: use theirs.
            row = await self._current(session)
            assert row is not None
            return row

    async def signing_key(self, session: AsyncSession) -> ECKey:
        """The private key to sign with now."""
        return self._open(await self.ensure_current(session))

    async def rotate(self, session: AsyncSession) -> Rotation:
        """Make a new current key; the current becomes previous; older ones retire."""
        current = await self._current(session, lock=True)
        now = utcnow()
        await session.execute(update(SigningKey).where(SigningKey.status == PREVIOUS)
                              .values(status=RETIRED, retired_at=now))
        if current is not None:
            current.status = PREVIOUS
        await session.flush()
        row = self._new_row()
        session.add(row)
        await session.flush()
        self.generation += 1
        log.info("signing_key_rotated", kid=row.kid,
                 previous_kid=current.kid if current else None)
        return Rotation(row.kid, current.kid if current else None)

    async def rotate_if_due(self, session: AsyncSession, max_age: timedelta) -> Rotation | None:
        """Rotate when the current key is older than ``max_age``."""
        current = await self._current(session, lock=True)
        if current is None:
            await self.ensure_current(session)
            return None
        if utcnow() - current.created_at < max_age:
            return None
        return await self.rotate(session)

    async def public_keys(self, session: AsyncSession) -> KeySet:
        """The published keys: current and previous."""
        rows = (await session.execute(select(SigningKey).where(
            SigningKey.status.in_((CURRENT, PREVIOUS))).order_by(SigningKey.created_at.desc())
        )).scalars().all()
        return KeySet([ECKey.import_key(json.loads(r.public_jwk)) for r in rows])

    async def jwks(self, session: AsyncSession) -> dict[str, object]:
        """The JWKS document."""
        await self.ensure_current(session)
        return (await self.public_keys(session)).as_dict(private=False)


class DatabaseKeys:
    """motcua.auth key source reading the published keys from this service's database.

    Found keys are cached for a minute (dropped at once when this replica rotates), so
    a retired key stops verifying everywhere within that.
    """

    def __init__(self, sessions: Callable[[], async_sessionmaker[AsyncSession]],
                 ring: KeyRing, ttl_s: float = 60.0) -> None:
        self._sessions = sessions
        self._ring = ring
        self._generation = ring.generation
        self._ttl = ttl_s
        self._cache: dict[str, tuple[ECKey, float]] = {}

    async def get(self, kid: str) -> ECKey | None:
        """The published key with ``kid``."""
        if self._generation != self._ring.generation:
            self._cache.clear()
            self._generation = self._ring.generation
        hit = self._cache.get(kid)
        if hit is not None and time.monotonic() - hit[1] < self._ttl:
            return hit[0]
        async with self._sessions()() as session:
            row = (await session.execute(select(SigningKey).where(
                SigningKey.kid == kid, SigningKey.status.in_((CURRENT, PREVIOUS))))
            ).scalar_one_or_none()
        if row is None:
            self._cache.pop(kid, None)
            return None
        key = ECKey.import_key(json.loads(row.public_jwk))
        self._cache[kid] = (key, time.monotonic())
        return key
