"""The national payment platform simulator (a separate app; see ``app.py``)."""
