"""Token endpoint problems; each also carries the OAuth ``error`` code (RFC 6749 §5.2)."""

from motcua.errors import Problem, Unauthorized


class InvalidClient(Unauthorized):
    code = "oauth.invalid_client"
    title = "Client authentication failed"


class UnsupportedGrantType(Problem):
    code = "oauth.unsupported_grant_type"
    title = "Grant type not supported"


class InvalidScope(Problem):
    code = "oauth.invalid_scope"
    title = "Requested scope not granted to this client"


class InvalidTokenRequest(Problem):
    code = "oauth.invalid_request"
    title = "Malformed token request"
