"""Guardian: private camera-AI platform (edge, relay, control plane)."""

__version__ = "0.1.0"
