"""Identifiers: UUIDv7 for events and rows (time-ordered, so indexes stay compact)."""

import uuid

import uuid_utils.compat


def uuid7() -> uuid.UUID:
    """A new time-ordered UUID (RFC 9562 version 7)."""
    return uuid_utils.compat.uuid7()


def new_id() -> str:
    """A new UUIDv7 as its canonical string."""
    return str(uuid7())
