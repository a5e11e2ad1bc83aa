"""Archiving at the edge: the user's secret, which events, sealing and upload jobs."""
