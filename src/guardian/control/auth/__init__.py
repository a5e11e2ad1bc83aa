"""Identity and access: built-in issuer, OIDC resource server, users (see README.md)."""
