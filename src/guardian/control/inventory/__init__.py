"""The event inventory: ingest from relays, the timeline, search, summaries and notes.

Modules: ``feed`` (live-update rows), ``ingest`` (idempotent upserts), ``queries``
(timeline, detail, summary), ``notes`` (operator notes and history), ``retention``
(purge by plan), ``search`` and ``cursor`` (pure helpers), ``schemas`` (wire models).
"""
