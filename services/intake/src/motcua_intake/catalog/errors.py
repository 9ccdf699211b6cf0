"""Problems the catalog endpoints answer.

::

    Problem (motcua.errors)
    ├── ProcedureNotFound        404 procedure.not_found
    ├── AgencyNotFound           404 agency.not_found
    ├── ProcedureExists          409 procedure.exists
    ├── AgencyExists             409 agency.exists
    ├── ProcedureNotPublished    409 procedure.not_published (withdrawing a draft)
    ├── CatalogInvalid           422 catalog.invalid (references that do not resolve)
    └── CatalogCsvInvalid        422 catalog.csv_invalid
"""

from motcua.errors import Conflict, NotFound, Unprocessable


class ProcedureNotFound(NotFound):
    code = "procedure.not_found"
    title = "Procedure not found"


class AgencyNotFound(NotFound):
    code = "agency.not_found"
    title = "Agency not found"


class ProcedureExists(Conflict):
    code = "procedure.exists"
    title = "A procedure with this national code exists"


class AgencyExists(Conflict):
    code = "agency.exists"
    title = "An agency with this code exists"


class ProcedureNotPublished(Conflict):
    code = "procedure.not_published"
    title = "Only a published procedure can be withdrawn"


class CatalogInvalid(Unprocessable):
    code = "catalog.invalid"
    title = "The catalog refers to agencies or procedures that do not exist"


class CatalogCsvInvalid(Unprocessable):
    code = "catalog.csv_invalid"
    title = "The CSV catalog cannot be read"
