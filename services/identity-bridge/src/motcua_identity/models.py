"""Every mapped class of identity-bridge, imported for Alembic."""


def load_all() -> None:
    """Import all model modules so Base.metadata is complete."""
    from motcua_identity.accounts import models as _accounts  # noqa: F401
    from motcua_identity.documents import models as _documents  # noqa: F401
    from motcua_identity.keys import models as _keys  # noqa: F401
    from motcua_identity.login import models as _login  # noqa: F401
    from motcua_identity.population import models as _population  # noqa: F401
