"""Monitoring: drift against the training profile, outcomes joined to decisions, live quality,
the shadow challenger's evidence and the retraining trigger.

Reads what the service wrote through ``records``; never imports ``serving``.
"""
