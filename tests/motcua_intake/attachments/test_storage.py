"""The local store: atomic writes, aborts leave nothing, keys cannot escape the root."""

from __future__ import annotations

from pathlib import Path

import pytest

from motcua.ids import new_id
from motcua_intake.attachments.storage import LocalStorage


class TestLocalStorage:
    async def test_write_read_delete(self, tmp_path: Path) -> None:
        store, key = LocalStorage(tmp_path), new_id()
        async with store.writer(key) as w:
            await w.write(b"abc")
            await w.write(b"def")
        assert b"".join([c async for c in store.read(key)]) == b"abcdef"
        assert await store.exists(key)
        await store.delete(key)
        assert not await store.exists(key)
        await store.delete(key)  # twice is fine

    async def test_abort_leaves_nothing(self, tmp_path: Path) -> None:
        store, key = LocalStorage(tmp_path), new_id()
        with pytest.raises(RuntimeError):
            async with store.writer(key) as w:
                await w.write(b"half")
                raise RuntimeError("client went away")
        assert not any(p.is_file() for p in tmp_path.rglob("*"))  # noqa: ASYNC240

    @pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "a" * 36, ""])
    async def test_only_generated_keys(self, tmp_path: Path, key: str) -> None:
        with pytest.raises(ValueError):
            async with LocalStorage(tmp_path).writer(key):
                pass
