"""The encrypted archive's shared core: the sealed blob format, content IDs, restore."""
