"""ONVIF cameras: find them with WS-Discovery, read their identity, profiles and stream URIs."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import selectors
import socket
import time
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import aiohttp
import psutil
import zeep.exceptions
from onvif import ONVIFCamera, ONVIFError  # type: ignore[import-untyped]
from onvif.definition import SERVICES  # type: ignore[import-untyped]
from onvif.util import is_auth_error, stringify_onvif_error  # type: ignore[import-untyped]
from wsdiscovery import QName  # type: ignore[import-untyped]
from wsdiscovery.actions import NS_ACTION_PROBE_MATCH, constructProbe  # type: ignore[import-untyped]
from wsdiscovery.message import createSOAPMessage, parseSOAPMessage  # type: ignore[import-untyped]

logger = logging.getLogger(__name__)

WS_DISCOVERY_PORT = 3702
WS_DISCOVERY_GROUP = "239.255.255.250"
NVT_NAMESPACE = "http://www.onvif.org/ver10/network/wsdl"
NVT_TYPE = "NetworkVideoTransmitter"
_SCOPE_PREFIX = "onvif://www.onvif.org/"
_PROBE_REPEATS = 2

ErrorKind = Literal["unreachable", "auth_failed", "no_media", "no_profiles", "protocol"]
_T = TypeVar("_T")


class OnvifError(Exception):
    """A device could not be read; ``kind`` says why, the message says it for people."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class DiscoveredDevice:
    """One answer to a WS-Discovery probe for ONVIF video transmitters."""

    endpoint: str  # the endpoint reference, usually urn:uuid:…
    address: str  # IP the answer came from
    xaddrs: tuple[str, ...]  # device service URLs
    types: tuple[str, ...]
    scopes: tuple[str, ...]
    name: str | None
    hardware: str | None
    location: str | None

    def device_service(self) -> tuple[str, int]:
        """Host and port of the device service (first XAddr, else the answering address)."""
        for xaddr in self.xaddrs:
            parts = urlsplit(xaddr)
            if parts.hostname:
                default = 443 if parts.scheme == "https" else 80
                return parts.hostname, parts.port or default
        return self.address, 80


@dataclass(frozen=True)
class DeviceInfo:
    manufacturer: str | None
    model: str | None
    firmware: str | None
    serial: str | None
    hardware_id: str | None


@dataclass(frozen=True)
class Capabilities:
    """What the device offers, as far as Guardian cares."""

    services: tuple[str, ...]  # e.g. ("devicemgmt", "events", "imaging", "media", "ptz")
    rtsp_over_tcp: bool | None  # RTP over RTSP over TCP (None: device did not say)


@dataclass(frozen=True)
class MediaProfile:
    """A media profile with its video encoder settings and RTSP stream URI."""

    token: str
    name: str
    encoding: str | None
    width: int | None
    height: int | None
    fps: float | None
    stream_uri: str | None

    @property
    def pixels(self) -> int:
        return (self.width or 0) * (self.height or 0)


@dataclass(frozen=True)
class OnvifDevice:
    host: str
    port: int
    info: DeviceInfo
    capabilities: Capabilities
    profiles: tuple[MediaProfile, ...]


def parse_scopes(scopes: Iterable[str]) -> tuple[str | None, str | None, str | None]:
    """``(name, hardware, location)`` from ``onvif://www.onvif.org/<kind>/<value>`` scopes."""
    found: dict[str, list[str]] = {"name": [], "hardware": [], "location": []}
    for scope in scopes:
        if not scope.lower().startswith(_SCOPE_PREFIX):
            continue
        kind, _, value = scope[len(_SCOPE_PREFIX) :].partition("/")
        if kind.lower() in found and value:
            found[kind.lower()].append(unquote(value))
    name, hardware, location = (", ".join(found[k]) or None for k in found)
    return name, hardware, location


def stream_url_with_credentials(uri: str, username: str, password: str) -> str:
    """``uri`` with ``username:password@`` (percent-encoded) in place of any userinfo it has."""
    if not username:
        return uri
    parts = urlsplit(uri)
    hostport = parts.netloc.rpartition("@")[2]
    userinfo = quote(username, safe="") + (":" + quote(password, safe="") if password else "")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{hostport}"))


def pick_profiles(
    profiles: Sequence[MediaProfile], main: str | None = None, detect: str | None = None
) -> tuple[MediaProfile, MediaProfile | None]:
    """The main profile (named, else highest resolution) and a lower-resolution detect one.

    A name matches a profile's token or its name. Without ``detect`` the detect profile is the
    smallest one with a stream that is smaller than the main one (``None`` if there is none).
    """
    streams = [p for p in profiles if p.stream_uri]
    if main is not None:
        chosen = _named(streams, main)
    elif streams:
        chosen = max(streams, key=lambda p: (p.pixels, p.fps or 0.0))
    else:
        raise OnvifError("no_profiles", "the device has no media profile with an RTSP stream")
    if detect is not None:
        return chosen, _named(streams, detect)
    smaller = [p for p in streams if 0 < p.pixels < chosen.pixels]
    return chosen, min(smaller, key=lambda p: (p.pixels, -(p.fps or 0.0)), default=None)


def _named(profiles: Sequence[MediaProfile], wanted: str) -> MediaProfile:
    by_token = {p.token: p for p in profiles}
    by_name = {p.name: p for p in reversed(profiles)}
    if (found := by_token.get(wanted) or by_name.get(wanted)) is not None:
        return found
    known = ", ".join(f"{p.name} ({p.token})" for p in profiles) or "none"
    raise OnvifError("no_profiles", f"no profile {wanted!r} with a stream; profiles: {known}")


# --- WS-Discovery -------------------------------------------------------------------------


def discover(
    timeout_s: float = 3.0,
    *,
    interface: str | None = None,
    address: str | None = None,
    port: int = WS_DISCOVERY_PORT,
) -> list[DiscoveredDevice]:
    """Probe for ONVIF NetworkVideoTransmitters and collect the answers for ``timeout_s``.

    Multicasts the probe on ``interface`` (an IPv4 address or interface name), or on every
    non-loopback IPv4 interface. With ``address`` the probe goes to that host only (unicast),
    for networks where multicast does not reach the cameras.
    """
    env = constructProbe([QName(NVT_NAMESPACE, NVT_TYPE, "dn")], [])
    probe = createSOAPMessage(env).encode("utf-8")
    target = (address, port) if address is not None else (WS_DISCOVERY_GROUP, port)
    sockets = _probe_sockets(interface, unicast=address is not None)
    try:
        found = _collect(sockets, probe, target, str(env.getMessageId()), timeout_s)
    finally:
        for sock in sockets:
            sock.close()
    return sorted(found.values(), key=lambda d: (d.address, d.endpoint))


def _collect(
    sockets: list[socket.socket],
    probe: bytes,
    target: tuple[str, int],
    message_id: str,
    timeout_s: float,
) -> dict[str, DiscoveredDevice]:
    """Send the probe (repeated, as SOAP-over-UDP asks) and gather matches until the deadline."""
    found: dict[str, DiscoveredDevice] = {}
    start = time.monotonic()
    deadline = start + timeout_s
    sends = [start + 0.2 * i for i in range(_PROBE_REPEATS)]
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ, data=sock)
        while (now := time.monotonic()) < deadline:
            if sends and now >= sends[0]:
                sends.pop(0)
                _send(sockets, probe, target)
            wait = min(deadline, sends[0] if sends else deadline) - now
            for key, _ in selector.select(max(wait, 0.0)):
                try:
                    data, peer = key.data.recvfrom(65535)
                except OSError as exc:  # e.g. an ICMP error for an earlier probe
                    logger.debug("ws-discovery receive failed: %s", exc)
                    continue
                for device in _parse_matches(data, peer[0], message_id):
                    found.setdefault(device.endpoint, device)
    return found


def _probe_sockets(interface: str | None, *, unicast: bool) -> list[socket.socket]:
    if unicast:
        # Bandit B104: WS-Discovery replies to our multicast probe may come on any interface.
        addresses = [_interface_address(interface)] if interface else ["0.0.0.0"]  # nosec B104
    elif interface:
        addresses = [_interface_address(interface)]
    else:
        addresses = _lan_addresses() or ["0.0.0.0"]  # nosec B104
    sockets: list[socket.socket] = []
    try:
        for addr in addresses:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
            sockets.append(sock)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            if addr != "0.0.0.0":  # nosec B104
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(addr))
            sock.bind((addr, 0))
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _send(sockets: list[socket.socket], probe: bytes, target: tuple[str, int]) -> None:
    for sock in sockets:
        try:
            sock.sendto(probe, target)
        except OSError as exc:  # an interface that is down or cannot multicast
            logger.debug("ws-discovery probe not sent from %s: %s", sock.getsockname(), exc)


def _interface_address(interface: str) -> str:
    try:
        return str(ipaddress.IPv4Address(interface))
    except ValueError:
        pass
    for addr in psutil.net_if_addrs().get(interface, []):
        if addr.family == socket.AF_INET:
            return str(addr.address)
    raise ValueError(f"no IPv4 interface {interface!r}")


def _lan_addresses() -> list[str]:
    out = []
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            if addr.family == socket.AF_INET:
                ip = ipaddress.IPv4Address(addr.address)
                if not (ip.is_loopback or ip.is_link_local):
                    out.append(str(ip))
    return out


def _parse_matches(data: bytes, peer: str, message_id: str) -> list[DiscoveredDevice]:
    try:
        env = parseSOAPMessage(data, peer)
    except Exception as exc:  # a malformed answer from some device on the LAN
        logger.debug("ignoring unparsable ws-discovery answer from %s: %s", peer, exc)
        return []
    if env is None or env.getAction() != NS_ACTION_PROBE_MATCH:
        return []
    if env.getRelatesTo() != message_id:
        return []
    devices = []
    for match in env.getProbeResolveMatches():
        scopes = tuple(str(s.getValue()) for s in match.getScopes())
        name, hardware, location = parse_scopes(scopes)
        devices.append(
            DiscoveredDevice(
                endpoint=str(match.getEPR()),
                address=peer,
                xaddrs=tuple(str(x) for x in match.getXAddrs()),
                types=tuple(str(t.getFullname()) for t in match.getTypes()),
                scopes=scopes,
                name=name,
                hardware=hardware,
                location=location,
            )
        )
    return devices


# --- ONVIF device and media services ---------------------------------------------------------


async def read_device(
    host: str, port: int, username: str, password: str, *, timeout_s: float = 10.0
) -> OnvifDevice:
    """Identity, capabilities and media profiles (with RTSP stream URIs) of one device."""
    camera = ONVIFCamera(host, port, username, password, no_cache=True, adjust_time=True)
    try:
        async with asyncio.timeout(timeout_s):
            return await _read(camera, host, port)
    except TimeoutError as exc:
        raise OnvifError(
            "unreachable", f"{host}:{port} did not answer within {timeout_s:g} s"
        ) from exc
    finally:
        await camera.close()


async def _read(camera: Any, host: str, port: int) -> OnvifDevice:
    where = f"{host}:{port}"
    await _call(camera.update_xaddrs(), where, "list services")
    devicemgmt = await camera.create_devicemgmt_service()
    raw_info = await _call(devicemgmt.GetDeviceInformation(), where, "device information")
    info = DeviceInfo(
        manufacturer=_text(raw_info, "Manufacturer"),
        model=_text(raw_info, "Model"),
        firmware=_text(raw_info, "FirmwareVersion"),
        serial=_text(raw_info, "SerialNumber"),
        hardware_id=_text(raw_info, "HardwareId"),
    )
    capabilities = await _capabilities(camera, where)
    try:
        media = await camera.create_media_service()
    except ONVIFError as exc:
        raise OnvifError("no_media", f"{where} has no ONVIF media service") from exc
    raw_profiles = await _call(media.GetProfiles(), where, "media profiles") or []
    profiles = [await _profile(media, raw, where) for raw in raw_profiles]
    if not profiles:
        raise OnvifError("no_profiles", f"{where} has no media profiles")
    return OnvifDevice(host, port, info, capabilities, tuple(profiles))


async def _capabilities(camera: Any, where: str) -> Capabilities:
    names = {spec["ns"]: name for name, spec in reversed(list(SERVICES.items()))}
    services = tuple(sorted({names[ns] for ns in camera.xaddrs if ns in names} | {"devicemgmt"}))
    try:
        raw = await _call(camera.get_capabilities(), where, "capabilities")
    except OnvifError as exc:
        if exc.kind != "protocol":
            raise
        raw = None  # optional on devices that answer GetServices
    streaming = ((raw or {}).get("Media") or {}).get("StreamingCapabilities") or {}
    rtsp_tcp = streaming.get("RTP_RTSP_TCP")
    return Capabilities(services, None if rtsp_tcp is None else bool(rtsp_tcp))


async def _profile(media: Any, raw: Any, where: str) -> MediaProfile:
    token = str(raw.token)
    encoder = getattr(raw, "VideoEncoderConfiguration", None)
    resolution = getattr(encoder, "Resolution", None)
    rate = getattr(encoder, "RateControl", None)
    fps = getattr(rate, "FrameRateLimit", None)
    uri: str | None = None
    if encoder is not None:
        request = {
            "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
            "ProfileToken": token,
        }
        try:
            answer = await _call(media.GetStreamUri(request), where, f"stream URI of {token}")
            uri = _text(answer, "Uri")
        except OnvifError as exc:
            if exc.kind != "protocol":
                raise
            logger.info("no stream URI for profile %s of %s: %s", token, where, exc)
    return MediaProfile(
        token=token,
        name=_text(raw, "Name") or token,
        encoding=_text(encoder, "Encoding"),
        width=_int(resolution, "Width"),
        height=_int(resolution, "Height"),
        fps=None if fps is None else float(fps),
        stream_uri=uri,
    )


async def _call(request: Awaitable[_T], where: str, what: str) -> _T:
    """Await one ONVIF request, translating the many ways it can fail into ``OnvifError``."""
    try:
        return await request
    except zeep.exceptions.Fault as exc:
        if is_auth_error(exc):
            raise OnvifError("auth_failed", f"authentication failed at {where}") from exc
        detail = stringify_onvif_error(exc)
        raise OnvifError("protocol", f"{where} refused {what}: {detail}") from exc
    except zeep.exceptions.TransportError as exc:
        if exc.status_code in (401, 403):
            raise OnvifError("auth_failed", f"authentication failed at {where}") from exc
        raise OnvifError(
            "protocol", f"{where} answered {what} with HTTP {exc.status_code}; is it ONVIF?"
        ) from exc
    except (aiohttp.ClientConnectionError, OSError) as exc:
        raise OnvifError("unreachable", f"{where} is unreachable: {exc}") from exc
    except (zeep.exceptions.Error, aiohttp.ClientError, ONVIFError) as exc:
        raise OnvifError("protocol", f"{where} failed {what}: {exc}") from exc


def _text(obj: Any, attr: str) -> str | None:
    value = getattr(obj, attr, None)
    return None if value is None else str(value)


def _int(obj: Any, attr: str) -> int | None:
    value = getattr(obj, attr, None)
    return None if value is None else int(value)
