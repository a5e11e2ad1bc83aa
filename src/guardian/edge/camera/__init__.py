"""The camera pipeline: sources, frame sampling, motion gating and detection scheduling."""
