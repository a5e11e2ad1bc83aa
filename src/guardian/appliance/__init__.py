"""Appliance bootstrap: a cloud-init NoCloud seed image that installs and enrols an edge."""

from guardian.appliance.options import SeedError, SeedOptions

__all__ = ["SeedError", "SeedOptions"]
