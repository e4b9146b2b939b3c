"""Model: estimators per family, training, the holdout and its slices, the gate, promotion
and the MLflow registry, plus the fast scorer every consumer (service, batch, governance)
uses and the task rules (metrics, agreement) the monitors apply.

Imports data and features only; serving, monitoring and batch build on it.
"""
