"""Accounts: citizens linked to their personal ID, staff and their agency memberships."""
