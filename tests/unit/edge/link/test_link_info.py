"""Where an enrolled edge dials its relay: the direct link port, then the enrolment address."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardian.edge.link.enroll import LinkInfo


@pytest.mark.parametrize(
    ("relay", "link_port", "targets"),
    [
        ("relay.example:8731", 8732, ["relay.example:8732", "relay.example:8731"]),
        ("10.0.0.5:9000", 9100, ["10.0.0.5:9100", "10.0.0.5:9000"]),
        ("[2001:db8::1]:8731", 8732, ["[2001:db8::1]:8732", "[2001:db8::1]:8731"]),
        ("relay.example:8731", 0, ["relay.example:8731"]),  # enrolled before the direct port
    ],
)
def test_link_targets_put_the_direct_port_on_the_enrolment_host_first(
    relay: str, link_port: int, targets: list[str]
) -> None:
    assert LinkInfo(relay, "site", "tenant", "relay-1", link_port).link_targets() == targets


def test_link_json_without_a_link_port_loads_as_enrolled_before_it(tmp_path: Path) -> None:
    (tmp_path / "link.json").write_text(
        '{"relay": "relay.example:8731", "site_id": "s", "tenant_id": "t", "relay_id": "r"}'
    )
    info = LinkInfo.load(tmp_path)
    assert info is not None and info.link_port == 0
    LinkInfo("relay.example:8731", "s", "t", "r", 8732).save(tmp_path)
    assert LinkInfo.load(tmp_path) == LinkInfo("relay.example:8731", "s", "t", "r", 8732)
