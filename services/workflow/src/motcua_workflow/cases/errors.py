"""Problems the case endpoints answer (stable codes)."""

from motcua.errors import Conflict, NotFound, Unprocessable


class CaseNotFound(NotFound):
    code = "case.not_found"
    title = "Case not found"


class CaseClosed(Conflict):
    code = "case.closed"
    title = "The case is closed"


class CaseVersionConflict(Conflict):
    code = "case.version_conflict"
    title = "The case changed since the version you acted on"


class CaseNotReceived(Conflict):
    code = "case.not_received"
    title = "The dossier has not been received yet"


class CasePaused(Conflict):
    code = "case.paused"
    title = "The case waits for the applicant (a supplement or a payment)"


class ActionNotAllowed(Conflict):
    code = "case.action_not_allowed"
    title = "This action is not allowed at the case's current step"


class TaskClaimedByOther(Conflict):
    code = "task.claimed_by_other"
    title = "The task is claimed by another officer"


class AwaitingAcknowledgement(Conflict):
    code = "case.awaiting_acknowledgement"
    title = "The receiving agency has not acknowledged the transfer yet"


class NothingToAcknowledge(Conflict):
    code = "case.nothing_to_acknowledge"
    title = "There is no transfer waiting for this agency"


class StepUnknown(Unprocessable):
    code = "case.step_unknown"
    title = "No such step in the case's process definition"


class NoNextStep(Conflict):
    code = "case.no_next_step"
    title = "The case is at the last step"


class NoPreviousStep(Conflict):
    code = "case.no_previous_step"
    title = "The case is at the first step"


class TransferToSameAgency(Unprocessable):
    code = "case.transfer_same_agency"
    title = "The case is already at that agency"


class MembersUnfinished(Conflict):
    code = "case.members_unfinished"
    title = "Some member procedures of the bundle are not finished"


class NotFinished(Conflict):
    code = "case.not_finished"
    title = "The case has no result to return yet"


class BundleMemberAction(Conflict):
    code = "case.bundle_member_action"
    title = "Do this through the bundle's case, not a member's"


class ApologyAlreadyDrafted(Conflict):
    code = "case.apology_already_drafted"
    title = "The case already has an apology slip"


class ApologyNotFound(NotFound):
    code = "case.apology_not_found"
    title = "The case has no apology slip"


class ExtensionAlreadyUsed(Conflict):
    code = "case.extension_already_used"
    title = "The new appointment may be set only once"


class ExtensionNotLater(Unprocessable):
    code = "case.extension_not_later"
    title = "The new appointment must be later than the current one"


class ExtensionNeedsReason(Unprocessable):
    code = "case.extension_reason_required"
    title = "An extension without a drafted apology needs a reason"
