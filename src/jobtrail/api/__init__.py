"""HTTP: the Jobs API, token exchange, ingestion, docs and health, as a FastAPI app."""
