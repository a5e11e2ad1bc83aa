"""Seed options: every bad value is refused with a message naming the option."""

from __future__ import annotations

import dataclasses

import pytest

from guardian.appliance.options import (
    SeedError,
    SeedOptions,
    default_hostname,
    parse_ssh_keys,
)

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl op@x"
CA = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"
GOOD = SeedOptions(
    tenant="3f0c1a2b-aaaa-bbbb-cccc-111122223333",
    token="gbt_Vd2xYz0123456789",
    wheel_name="guardian-0.1.0-py3-none-any.whl",
    relay="relay.example.com:8731",
    ssh_keys=(KEY,),
    ca_pem=CA,
)


def test_valid_options_get_a_hostname_from_the_tenant() -> None:
    options = GOOD.validated()
    assert options.hostname == "guardian-edge-3f0c1a2b"
    assert dataclasses.replace(options, hostname=None) == dataclasses.replace(GOOD)


@pytest.mark.parametrize(
    ("change", "option"),
    [
        ({"tenant": ""}, "--tenant"),
        ({"tenant": "a b"}, "--tenant"),
        ({"tenant": "-x"}, "--tenant"),
        ({"token": "short"}, "--token"),
        ({"token": 'gbt_"quoted"xx'}, "--token"),
        ({"token": "gbt_with space_x"}, "--token"),
        ({"token": "gbt_$(reboot)xx"}, "--token"),
        ({"relay": "relay.example.com"}, "--relay"),
        ({"relay": "relay:0"}, "--relay"),
        ({"relay": "relay:65536"}, "--relay"),
        ({"relay": ":8731"}, "--relay"),
        ({"relay": "bad host:8731"}, "--relay"),
        ({"hostname": "Upper"}, "--hostname"),
        ({"hostname": "a" * 64}, "--hostname"),
        ({"hostname": "-lead"}, "--hostname"),
        ({"ssh_keys": ("not a key",)}, "OpenSSH"),
        ({"ssh_keys": (KEY + "\nssh-rsa AAAA",)}, "OpenSSH"),
        ({"ca_pem": "garbage"}, "--ca-file"),
        ({"wheel_name": "other-1.0-py3-none-any.whl"}, "wheel"),
    ],
)
def test_bad_options_are_refused_naming_the_option(change: dict[str, object], option: str) -> None:
    with pytest.raises(SeedError, match=option):
        dataclasses.replace(GOOD, **change).validated()  # type: ignore[arg-type]


def test_ipv6_relay_and_no_relay_are_accepted() -> None:
    assert dataclasses.replace(GOOD, relay="[2001:db8::1]:8731").validated().relay
    assert dataclasses.replace(GOOD, relay=None).validated().relay is None


def test_default_hostname_uses_only_dns_safe_characters() -> None:
    assert default_hostname("ACME_Corp.1") == "guardian-edge-acmecorp"
    assert default_hostname("___") == "guardian-edge"


def test_ssh_key_files_drop_comments_and_blank_lines() -> None:
    assert parse_ssh_keys(f"# mine\n\n{KEY}\n  \n") == (KEY,)
