"""Problems of the sign-in flow."""

from motcua.errors import NotFound, Problem


class LoginUnavailable(NotFound):
    code = "login.not_configured"
    title = "No identity provider is configured for this audience"


class LoginStateUnknown(Problem):
    code = "login.state_unknown"
    title = "Unknown login state"


class LoginStateUsed(Problem):
    status = 409
    code = "login.state_used"
    title = "This login was already completed"


class LoginExpired(Problem):
    code = "login.expired"
    title = "This login took too long; start again"


class DevLoginDisabled(NotFound):
    code = "auth.dev_login_disabled"
    title = "Development sign-in is disabled"


class InvalidCredentials(Problem):
    status = 401
    code = "auth.invalid_credentials"
    title = "Wrong username or password"
