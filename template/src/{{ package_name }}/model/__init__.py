"""Model training and the MLflow registry."""
