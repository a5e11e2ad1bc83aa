"""Model format converters: foreign model packages → files our runtimes load."""
