"""Multi-object tracking across frames, detection masks and polygon geometry."""
