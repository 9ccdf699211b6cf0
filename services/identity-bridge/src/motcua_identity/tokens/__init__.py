"""Mesh access tokens: minting, and the client-credentials token endpoint."""
