"""Every mapped class of workflow, imported for Alembic."""


def load_all() -> None:
    """Import all model modules so Base.metadata is complete."""
    from motcua_workflow.cases import models as _cases  # noqa: F401
