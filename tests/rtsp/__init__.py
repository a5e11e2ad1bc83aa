"""A GStreamer RTSP server for tests, run by the system python3 (gst_server.py)."""
