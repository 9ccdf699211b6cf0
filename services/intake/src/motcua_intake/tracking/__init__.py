"""Public tracking: a dossier's timeline by code plus a second factor."""
