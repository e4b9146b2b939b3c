"""Monitoring: the served-traffic window, drift and staleness."""
