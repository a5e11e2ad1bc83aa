"""The Raspberry Pi capture client: capture, sign, spool, upload with retry."""
