"""Every mapped class of workflow, imported for Alembic."""


def load_all() -> None:
    """Import all model modules so Base.metadata is complete."""
    from motcua_workflow.cases import models as _cases  # noqa: F401
    from motcua_workflow.definitions import models as _definitions  # noqa: F401
    from motcua_workflow.processlog import models as _processlog  # noqa: F401
    from motcua_workflow.tasks import models as _tasks  # noqa: F401
