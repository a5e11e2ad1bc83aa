"""The edge's link to its relay: identity, the long-lived stream, outbox drain, telemetry."""
