"""Problems the dossier endpoints answer."""

from motcua.errors import NotFound, Unprocessable


class DossierNotFound(NotFound):
    code = "dossier.not_found"
    title = "Dossier not found"


class ProcedureUnknown(Unprocessable):
    code = "procedure.unknown"
    title = "Procedure is not in the catalog"


class AgencyUnknown(Unprocessable):
    code = "agency.unknown"
    title = "Agency is not known"


class ApplicantIdInvalid(Unprocessable):
    code = "applicant.id_invalid"
    title = "Applicant identification number is invalid"
