"""Problems the attachment endpoints answer.

::

    Problem (motcua.errors)
    ├── AttachmentNotFound      404 attachment.not_found
    ├── AttachmentTooLarge      413 attachment.too_large
    ├── AttachmentTypeRefused   415 attachment.type_not_allowed
    ├── AttachmentTypeMismatch  415 attachment.type_mismatch (content is not what it claims)
    ├── AttachmentEmpty         422 attachment.empty
    └── FilenameInvalid         422 attachment.filename_invalid
"""

from motcua.errors import NotFound, Problem, Unprocessable


class AttachmentNotFound(NotFound):
    code = "attachment.not_found"
    title = "Attachment not found"


class AttachmentTooLarge(Problem):
    status = 413
    code = "attachment.too_large"
    title = "The file is larger than allowed"


class AttachmentTypeRefused(Problem):
    status = 415
    code = "attachment.type_not_allowed"
    title = "This kind of file is not accepted"


class AttachmentTypeMismatch(Problem):
    status = 415
    code = "attachment.type_mismatch"
    title = "The file's content does not match its name or declared type"


class AttachmentEmpty(Unprocessable):
    code = "attachment.empty"
    title = "The file is empty"


class FilenameInvalid(Unprocessable):
    code = "attachment.filename_invalid"
    title = "The filename cannot be accepted"
