"""Every mapped class of intake, imported for Alembic."""


def load_all() -> None:
    """Import all model modules so Base.metadata is complete."""
    from motcua_intake.attachments import models as _attachments  # noqa: F401
    from motcua_intake.catalog import models as _catalog  # noqa: F401
    from motcua_intake.dossiers import models as _dossiers  # noqa: F401
