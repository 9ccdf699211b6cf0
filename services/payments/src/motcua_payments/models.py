"""Every mapped class of payments, imported for Alembic."""


def load_all() -> None:
    """Import all model modules so Base.metadata is complete."""
    from motcua_payments.fees import models as _fees  # noqa: F401
    from motcua_payments.payments import models as _payments  # noqa: F401
    from motcua_payments.receipts import models as _receipts  # noqa: F401
    from motcua_payments.reconciliation import models as _reconciliation  # noqa: F401
    from motcua_payments.refunds import models as _refunds  # noqa: F401
