"""Problems the index API answers (problem+json with stable codes)."""

from __future__ import annotations

from motcua.errors import FieldError, NotFound, Problem


class IndexQueryInvalid(Problem):
    """A unit, period or level the index cannot be computed for."""

    status = 422
    code = "index.query_invalid"
    title = "Invalid index query"

    @classmethod
    def field(cls, name: str, code: str, message: str) -> IndexQueryInvalid:
        """The problem for one offending query parameter."""
        return cls(message, errors=[FieldError(field=f"query.{name}", code=code,
                                               message=message)])


class IndexItemNotFound(NotFound):
    """No item with this id in the index configuration."""

    code = "index.item_not_found"
    title = "Index item not found"


class NationalRecordNotFound(NotFound):
    """No national record was sent for this dossier."""

    code = "national.record_not_found"
    title = "National record not found"
