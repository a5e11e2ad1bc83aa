"""The relay's archive: sealed blobs stored by content ID, per-tenant quota, restore."""
