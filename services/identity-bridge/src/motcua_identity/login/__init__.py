"""Sign-in through an OpenID Connect provider (VNeID-style) and the dev fallback."""
