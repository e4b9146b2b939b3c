-- Staging PostgreSQL: the pilot's data lives in database "pilot" (POSTGRES_DB), MLflow's
-- tracking and registry tables in their own database.
CREATE DATABASE mlflow;
