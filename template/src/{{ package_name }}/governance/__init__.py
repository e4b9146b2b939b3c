"""Governance: documents filled from the running system, and the readiness gate (ML Test Score).

The top of the library: it may read every layer below; only the CLI imports it.
"""
