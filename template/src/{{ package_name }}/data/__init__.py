"""Data layer: schema, sources, ingestion."""
