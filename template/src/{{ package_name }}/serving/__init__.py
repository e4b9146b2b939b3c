"""Serving: the FastAPI service (auth, request contract, decisions, metrics, shadow).

Scores through ``model.scorer`` and writes ``records``; never imports ``monitoring``.
"""
