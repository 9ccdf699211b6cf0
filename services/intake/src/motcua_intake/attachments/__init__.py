"""Attachments: files streamed to storage, sniffed, hashed, referenced by dossiers."""
