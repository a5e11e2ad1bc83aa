"""The RTSP test infrastructure: GStreamer server, vtest footage, garbage stream."""
