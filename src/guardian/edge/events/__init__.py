"""Event engine: turning detections into events (interaction_detected, …)."""
