"""Auditor pages (placeholder until the views land)."""
