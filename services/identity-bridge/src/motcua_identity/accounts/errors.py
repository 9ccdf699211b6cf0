"""Problems about accounts and staff."""

from motcua.errors import Conflict, Forbidden, NotFound, Unprocessable


class AccountNotFound(NotFound):
    code = "account.not_found"
    title = "Account not found"


class StaffNotRegistered(Forbidden):
    code = "staff.not_registered"
    title = "This sign-in is not registered as staff"


class StaffUsernameTaken(Conflict):
    code = "staff.username_taken"
    title = "This username is already used"


class PersonalIdMismatch(Conflict):
    code = "account.personal_id_mismatch"
    title = "The provider's subject is linked to another personal ID"


class PersonalIdInvalid(Unprocessable):
    code = "login.personal_id_invalid"
    title = "The provider sent no valid personal ID number"


class AccountInactive(Forbidden):
    code = "account.inactive"
    title = "This account is deactivated"
