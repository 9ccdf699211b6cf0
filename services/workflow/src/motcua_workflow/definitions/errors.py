"""Problems the process-definition endpoints answer."""

from motcua.errors import Conflict, NotFound, Problem, ValidationFailed


class DefinitionNotFound(NotFound):
    code = "definition.not_found"
    title = "Process definition not found"


class DefinitionDocumentMalformed(Problem):
    status = 400
    code = "definition.document_malformed"
    title = "The definition document is not valid YAML or JSON"


class DefinitionMediaTypeUnsupported(Problem):
    status = 415
    code = "definition.media_type_unsupported"
    title = "Send definitions as application/yaml or application/json"


class DefinitionInvalid(ValidationFailed):
    code = "definition.invalid"
    title = "The process definition is not valid"


class DefinitionVersionConflict(Conflict):
    code = "definition.version_conflict"
    title = "Another version of this definition was stored at the same time; retry"
