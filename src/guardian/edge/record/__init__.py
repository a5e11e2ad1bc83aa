"""Recording: remuxed MP4 segments, event clips, retention and the disk floor."""
