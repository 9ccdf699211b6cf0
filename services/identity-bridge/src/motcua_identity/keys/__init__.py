"""The mesh's signing keys: rotation, encryption at rest, the published JWKS."""
