"""Shared building blocks: settings, logging, crypto, database helpers."""
