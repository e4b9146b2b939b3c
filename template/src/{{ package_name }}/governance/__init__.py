"""Governance: documents filled from the running system, and the readiness gate."""
