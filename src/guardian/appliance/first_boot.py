"""The first-boot helper the seed installs as /usr/local/lib/guardian/enroll-check.

It runs with the system's python3 (not Guardian's venv) around ``guardian edge enroll`` in
guardian-edge-enroll.service: ``before`` refuses to start without a relay address, ``after``
checks that the token enrolled the edge into the tenant the seed was made for.
"""

from __future__ import annotations

ENROLL_CHECK = '''\
#!/usr/bin/python3
"""Checks around `guardian edge enroll` on first boot (installed by Guardian's seed image)."""
import json
import os
import sys

ENV_FILE = "/etc/guardian/enroll.env"


def before():
    if not os.environ.get("GUARDIAN_ENROLL_RELAY", "").strip():
        sys.stderr.write(
            "no relay address: set GUARDIAN_ENROLL_RELAY=HOST:PORT in %s, then run "
            "systemctl restart guardian-edge-enroll\\n" % ENV_FILE
        )
        return 1
    return 0


def after():
    link = os.path.join(os.environ["GUARDIAN_EDGE_DATA_DIR"], "link", "link.json")
    with open(link, encoding="utf-8") as handle:
        tenant = json.load(handle)["tenant_id"]
    expected = os.environ.get("GUARDIAN_ENROLL_TENANT", "")
    if tenant != expected:
        # Keep the evidence but switch the link off: this box belongs to another tenant.
        os.replace(link, link + ".wrong-tenant")
        sys.stderr.write(
            "the token enrolled this edge into tenant %s, but the seed was made for tenant "
            "%s; the link stays off\\n" % (tenant, expected)
        )
        return 1
    sys.stderr.write("enrolled into tenant %s\\n" % tenant)
    return 0


if __name__ == "__main__":
    phases = {"before": before, "after": after}
    if len(sys.argv) != 2 or sys.argv[1] not in phases:
        sys.stderr.write("usage: enroll-check before|after\\n")
        sys.exit(2)
    sys.exit(phases[sys.argv[1]]())
'''
