"""Media the relay fetches from edges on demand: clip and snapshot uploads over the link."""
