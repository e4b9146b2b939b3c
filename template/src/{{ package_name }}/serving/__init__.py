"""Online serving: request contract, compiled scorer, FastAPI app."""
