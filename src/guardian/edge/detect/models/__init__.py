"""Model catalog, fetching/conversion, the models directory, and user-supplied models."""
