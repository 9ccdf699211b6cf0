"""Problems of the citizen data store."""

from motcua.errors import NotFound, Unprocessable


class DocumentNotFound(NotFound):
    code = "document.not_found"
    title = "Document not found"


class DocumentExpired(Unprocessable):
    code = "document.expired"
    title = "The document is no longer valid"


class DocumentNotYetValid(Unprocessable):
    code = "document.not_yet_valid"
    title = "The document is not valid yet"
