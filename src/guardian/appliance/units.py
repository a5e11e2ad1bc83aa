"""systemd units, sysusers.d and env files of a Guardian host (the source of deploy/systemd/).

``guardian appliance units --out-dir deploy/systemd`` writes them; the seed image embeds the
edge's. Paths follow one layout: the program in ``/opt/guardian/venv``, configuration in
``/etc/guardian/<service>.env``, state in ``/var/lib/guardian/<service>``, logs to journald.
"""

from __future__ import annotations

VENV = "/opt/guardian/venv"
GUARDIAN = f"{VENV}/bin/guardian"
CONFIG_DIR = "/etc/guardian"
STATE_ROOT = "/var/lib/guardian"
MODELS_DIR = f"{STATE_ROOT}/models"
ENROLL_ENV = f"{CONFIG_DIR}/enroll.env"
RELAY_CA = f"{CONFIG_DIR}/relay-ca.pem"
ENROLL_HELPER = "/usr/local/lib/guardian/enroll-check"

# Shared by every service. Deliberately absent: MemoryDenyWriteExecute on the edge (OpenVINO's
# CPU plugin generates code at run time), ~@resources on the edge (inference runtimes pin
# threads to cores and bind memory to NUMA nodes) and ProcSubset=pid (psutil reads /proc/stat).
_HARDENING = """\
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateMounts=yes
PrivateDevices=yes
DevicePolicy=closed
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
KeyringMode=private
CapabilityBoundingSet=
AmbientCapabilities=
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
UMask=0027
"""


def _service(
    *,
    description: str,
    after: str,
    service: str,
    user: str,
    state: str,
    families: str,
    extra_hardening: str = "",
    denied_calls: str = "@privileged @resources",
    install: bool = True,
    unit_extra: str = "",
) -> str:
    text = (
        f"[Unit]\nDescription={description}\nWants=network-online.target\nAfter={after}\n"
        f"{unit_extra}\n[Service]\n{service}"
        f"User={user}\nGroup={user}\n"
        f"StateDirectory=guardian/{state}\nStateDirectoryMode=0750\n"
        f"ReadWritePaths={STATE_ROOT}/{state}\n"
        f"\n# Hardening (see docs/deploy.md before loosening any of it)\n{_HARDENING}"
        f"SystemCallFilter=~{denied_calls}\n"
        f"RestrictAddressFamilies={families}\n{extra_hardening}"
    )
    if install:
        text += "\n[Install]\nWantedBy=multi-user.target\n"
    return text


_EDGE_ENV_LINES = (
    f"Environment=GUARDIAN_EDGE_DATA_DIR={STATE_ROOT}/edge\n"
    f"Environment=GUARDIAN_EDGE_DETECTOR__MODELS_DIR={MODELS_DIR}\n"
    "Environment=GUARDIAN_EDGE_LOG_FORMAT=json\n"
    "Environment=GUARDIAN_EDGE_ENVIRONMENT=production\n"
    # Variables of the env file override the defaults above.
    f"EnvironmentFile=-{CONFIG_DIR}/edge.env\n"
)

EDGE_UNIT = _service(
    description="Guardian edge: cameras, capture ingest, detection, events, link to the relay",
    after="network-online.target guardian-edge-enroll.service",
    service=(
        "Type=exec\n" + _EDGE_ENV_LINES + f"ExecStartPre={GUARDIAN} edge db upgrade\n"
        f"ExecStart={GUARDIAN} edge run\n"
        "Restart=on-failure\nRestartSec=5s\nTimeoutStopSec=60s\n"
    ),
    user="guardian-edge",
    state="edge",
    # Netlink: interface discovery for ONVIF WS-Discovery and glibc's AI_ADDRCONFIG.
    families="AF_UNIX AF_INET AF_INET6 AF_NETLINK",
    denied_calls="@privileged",
    # For an Intel iGPU (OpenVINO "GPU" device) override with PrivateDevices=no and
    # DeviceAllow=/dev/dri rw in a drop-in.
)

EDGE_WORKER_UNIT = _service(
    description="Guardian edge: extra capture workers (needs the edge's PostgreSQL store)",
    after="network-online.target guardian-edge.service",
    service=(
        "Type=exec\n" + _EDGE_ENV_LINES + "Environment=WORKER_THREADS=2\n"
        f"ExecStart={GUARDIAN} edge worker --count ${{WORKER_THREADS}}\n"
        "Restart=on-failure\nRestartSec=5s\nTimeoutStopSec=60s\n"
    ),
    user="guardian-edge",
    state="edge",
    families="AF_UNIX AF_INET AF_INET6",
    denied_calls="@privileged",
)

EDGE_ENROLL_UNIT = _service(
    description="Guardian edge: enrol at the relay on first boot (single-use token)",
    after="network-online.target",
    unit_extra=(
        f"Before=guardian-edge.service\nConditionPathExists={ENROLL_ENV}\n"
        f"ConditionPathExists=!{STATE_ROOT}/edge/link/link.json\n"
        "StartLimitIntervalSec=1h\nStartLimitBurst=30\n"
    ),
    service=(
        "Type=oneshot\nRemainAfterExit=yes\n" + _EDGE_ENV_LINES + f"EnvironmentFile={ENROLL_ENV}\n"
        f"ExecStartPre={ENROLL_HELPER} before\n"
        f"ExecStart={GUARDIAN} edge enroll --relay ${{GUARDIAN_ENROLL_RELAY}} "
        "--token ${GUARDIAN_ENROLL_TOKEN} $GUARDIAN_ENROLL_CA_ARGS --json\n"
        f"ExecStartPost={ENROLL_HELPER} after\n"
        # The token works once: drop it (and the file) as soon as it has been redeemed.
        f"ExecStartPost=+/bin/rm -f {ENROLL_ENV}\n"
        # The relay may not be reachable yet on first boot: try again for a while.
        "Restart=on-failure\nRestartSec=30s\n"
    ),
    user="guardian-edge",
    state="edge",
    families="AF_UNIX AF_INET AF_INET6 AF_NETLINK",
)

RELAY_UNIT = _service(
    description="Guardian relay: a tenant's edge link, event cache, clip relay",
    after="network-online.target",
    service=(
        "Type=exec\n"
        f"Environment=GUARDIAN_RELAY_DATA_DIR={STATE_ROOT}/relay\n"
        "Environment=GUARDIAN_RELAY_LOG_FORMAT=json\n"
        "Environment=GUARDIAN_RELAY_ENVIRONMENT=production\n"
        f"EnvironmentFile=-{CONFIG_DIR}/relay.env\n"
        f"ExecStart={GUARDIAN} relay run\n"
        "Restart=on-failure\nRestartSec=5s\nTimeoutStopSec=30s\n"
    ),
    user="guardian-relay",
    state="relay",
    families="AF_UNIX AF_INET AF_INET6",
    extra_hardening="MemoryDenyWriteExecute=yes\n",
)

CONTROL_UNIT = _service(
    description="Guardian control plane: tenants, users, event inventory, web UI",
    after="network-online.target postgresql.service",
    service=(
        "Type=exec\n"
        f"Environment=GUARDIAN_CONTROL_DATA_DIR={STATE_ROOT}/control\n"
        "Environment=GUARDIAN_CONTROL_LOG_FORMAT=json\n"
        "Environment=GUARDIAN_CONTROL_ENVIRONMENT=production\n"
        f"EnvironmentFile=-{CONFIG_DIR}/control.env\n"
        f"ExecStartPre={GUARDIAN} control db upgrade\n"
        f"ExecStart={GUARDIAN} control run\n"
        "Restart=on-failure\nRestartSec=5s\nTimeoutStopSec=30s\n"
    ),
    user="guardian-control",
    state="control",
    families="AF_UNIX AF_INET AF_INET6",
    extra_hardening="MemoryDenyWriteExecute=yes\n",
)

SYSUSERS = """\
# Guardian's service users (systemd-sysusers); each service runs as its own user.
u guardian-edge - "Guardian edge" /var/lib/guardian/edge
u guardian-relay - "Guardian relay" /var/lib/guardian/relay
u guardian-control - "Guardian control plane" /var/lib/guardian/control
"""

EDGE_ENV = f"""\
# /etc/guardian/edge.env: GUARDIAN_EDGE_* settings of guardian-edge.service (root:guardian-edge,
# 0640). Every option, its default and its variable: docs/configuration.md.
GUARDIAN_EDGE_HOST=127.0.0.1
GUARDIAN_EDGE_PORT=8710
# GUARDIAN_EDGE_DATABASE_URL=postgresql+psycopg://guardian@db.example/guardian_edge
# GUARDIAN_EDGE_DETECTOR__MODEL=ssd-mobilenetv2-oidv4
# GUARDIAN_EDGE_DETECTOR__MODELS_DIR={MODELS_DIR}
"""

RELAY_ENV = """\
# /etc/guardian/relay.env: GUARDIAN_RELAY_* settings of guardian-relay.service
# (root:guardian-relay, 0640). Every option: docs/configuration.md.
GUARDIAN_RELAY_HOST=0.0.0.0
GUARDIAN_RELAY_HTTP_PORT=8730
GUARDIAN_RELAY_LINK_PORT=8731
GUARDIAN_RELAY_LINK_DIRECT_PORT=8732
GUARDIAN_RELAY_CONTROL_URL=https://control.example.com
# The relay credential printed by `guardian control relay add` (secret).
GUARDIAN_RELAY_CONTROL_TOKEN=
"""

CONTROL_ENV = """\
# /etc/guardian/control.env: GUARDIAN_CONTROL_* settings of guardian-control.service
# (root:guardian-control, 0640). Every option: docs/configuration.md.
GUARDIAN_CONTROL_HOST=0.0.0.0
GUARDIAN_CONTROL_PORT=8720
GUARDIAN_CONTROL_GRPC_PORT=8721
GUARDIAN_CONTROL_DATABASE_URL=postgresql+psycopg://guardian@127.0.0.1:5432/guardian
GUARDIAN_CONTROL_AUTH__ISSUER=https://control.example.com
"""

#: File name → text of everything ``guardian appliance units`` writes.
FILES: dict[str, str] = {
    "guardian-edge.service": EDGE_UNIT,
    "guardian-edge-enroll.service": EDGE_ENROLL_UNIT,
    "guardian-edge-worker.service": EDGE_WORKER_UNIT,
    "guardian-relay.service": RELAY_UNIT,
    "guardian-control.service": CONTROL_UNIT,
    "sysusers.d/guardian.conf": SYSUSERS,
    "env/edge.env": EDGE_ENV,
    "env/relay.env": RELAY_ENV,
    "env/control.env": CONTROL_ENV,
}
