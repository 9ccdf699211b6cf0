"""Problems the dossier endpoints answer (stable codes, offending fields listed).

::

    Problem (motcua.errors)
    ├── DossierNotFound            404 dossier.not_found
    ├── Unprocessable              422
    │   ├── ProcedureUnknown           procedure.unknown
    │   ├── ProcedureNotAvailable      procedure.not_available (unpublished / out of validity)
    │   ├── ProcedureNotConfigured     procedure.not_configured (no statutory time yet)
    │   ├── ProcedureNotAtAgency       procedure.not_at_agency (agency is not competent)
    │   ├── ProcedureNotReceivedHere   procedure.not_received_here (reception point)
    │   ├── AgencyUnknown              agency.unknown
    │   ├── AgencyReplaced             agency.replaced (a merged agency's old code)
    │   ├── AgencyRequired             dossier.agency_required (several competent agencies)
    │   ├── ApplicantIdInvalid         applicant.id_invalid
    │   ├── ComponentsMissing          dossier.components_missing
    │   ├── DocumentsInvalid           dossier.documents_invalid
    │   └── ExemptionUnknown           dossier.exemption_unknown
    ├── Forbidden                  403
    │   ├── ApplicantNotCaller         dossier.applicant_not_caller (a citizen submitting
    │   │                              for another person)
    │   └── ChannelNotAllowed          dossier.channel_not_allowed (citizens: online only;
    │                                  officers: direct and postal)
    └── Conflict                   409
        ├── DossierWrongStatus         dossier.wrong_status
        ├── DossierAlreadyRated        dossier.already_rated
        └── DossierNotPrintable        dossier.not_printable
"""

from motcua.errors import Conflict, Forbidden, NotFound, Unprocessable


class DossierNotFound(NotFound):
    code = "dossier.not_found"
    title = "Dossier not found"


class ProcedureUnknown(Unprocessable):
    code = "procedure.unknown"
    title = "Procedure is not in the catalog"


class ProcedureNotAvailable(Unprocessable):
    code = "procedure.not_available"
    title = "Procedure is not published or not in force today"


class ProcedureNotConfigured(Unprocessable):
    code = "procedure.not_configured"
    title = "Procedure has no statutory time configured yet"


class ProcedureNotAtAgency(Unprocessable):
    code = "procedure.not_at_agency"
    title = "This agency does not handle this procedure"


class ProcedureNotReceivedHere(Unprocessable):
    code = "procedure.not_received_here"
    title = "This reception point does not receive this procedure"


class AgencyUnknown(Unprocessable):
    code = "agency.unknown"
    title = "Agency is not known"


class AgencyReplaced(Unprocessable):
    code = "agency.replaced"
    title = "Agency code is no longer in force"


class AgencyRequired(Unprocessable):
    code = "dossier.agency_required"
    title = "Several agencies handle this procedure: name the competent one"


class ApplicantIdInvalid(Unprocessable):
    code = "applicant.id_invalid"
    title = "Applicant identification number is invalid"


class ComponentsMissing(Unprocessable):
    code = "dossier.components_missing"
    title = "Required document components are missing"


class DocumentsInvalid(Unprocessable):
    code = "dossier.documents_invalid"
    title = "Some documents cannot be accepted"


class ExemptionUnknown(Unprocessable):
    code = "dossier.exemption_unknown"
    title = "Claimed exemption does not exist for this procedure"


class ApplicantNotCaller(Forbidden):
    code = "dossier.applicant_not_caller"
    title = "A citizen submits only for themselves or an organisation they represent"


class ChannelNotAllowed(Forbidden):
    code = "dossier.channel_not_allowed"
    title = "This caller cannot submit on this channel"


class DossierWrongStatus(Conflict):
    code = "dossier.wrong_status"
    title = "The dossier's status does not allow this"


class DossierAlreadyRated(Conflict):
    code = "dossier.already_rated"
    title = "The dossier was already rated"


class DossierNotPrintable(Conflict):
    code = "dossier.not_printable"
    title = "This slip does not exist for the dossier in its status"
