"""Every mapped class of metrics, imported for Alembic."""


def load_all() -> None:
    """Import all model modules so Base.metadata is complete."""
    from motcua_metrics.catalog import models as _catalog  # noqa: F401
    from motcua_metrics.facts import models as _facts  # noqa: F401
    from motcua_metrics.index import models as _index  # noqa: F401
