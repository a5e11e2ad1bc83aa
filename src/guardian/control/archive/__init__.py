"""The control plane's view of the archive: each event's CID and size, and tenant quotas."""
