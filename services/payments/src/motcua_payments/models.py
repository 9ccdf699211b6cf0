"""Every mapped class of payments, imported for Alembic."""


def load_all() -> None:
    """Import all model modules so Base.metadata is complete (none beyond the kit yet)."""
