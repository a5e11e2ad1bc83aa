"""ONVIF adapter against real protocol peers on loopback: a WS-Discovery publisher and an
HTTP/SOAP device emulator that checks WS-Security UsernameToken digests."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import ipaddress
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from wsdiscovery import QName, Scope  # type: ignore[import-untyped]
from wsdiscovery.publishing import ThreadedWSPublishing  # type: ignore[import-untyped]
from wsdiscovery.util import _getNetworkAddrs  # type: ignore[import-untyped]

from guardian.edge.camera.onvif import (
    NVT_NAMESPACE,
    NVT_TYPE,
    MediaProfile,
    OnvifError,
    discover,
    pick_profiles,
    read_device,
    stream_url_with_credentials,
)

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TRT = "http://www.onvif.org/ver10/media/wsdl"
TT = "http://www.onvif.org/ver10/schema"
NAMESPACES = f'xmlns:s="{SOAP}" xmlns:tds="{TDS}" xmlns:trt="{TRT}" xmlns:tt="{TT}"'

# Answered without credentials, as the ONVIF core spec requires (clock sync before auth).
UNAUTHENTICATED = frozenset({"GetSystemDateAndTime"})


@dataclass(frozen=True)
class EmulatedProfile:
    token: str
    name: str
    width: int
    height: int
    fps: int
    path: str


@dataclass
class OnvifEmulator:
    """A small ONVIF Profile S device: device management plus media (ver10) over SOAP 1.2."""

    username: str = "admin"
    password: str = "pa:ss/w@rd"
    rtsp_port: int = 8554
    profiles: tuple[EmulatedProfile, ...] = (
        EmulatedProfile("prof_sub", "SubStream", 640, 360, 10, "sub"),
        EmulatedProfile("prof_main", "MainStream", 1920, 1080, 25, "main"),
    )
    media: bool = True
    operations: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stream_uri(self, profile: EmulatedProfile) -> str:
        return f"rtsp://{self.host}:{self.rtsp_port}/{profile.path}"

    def answer(self, body: bytes) -> tuple[int, str]:
        """HTTP status and SOAP envelope for one request."""
        envelope = ET.fromstring(body)
        request = next(iter(envelope.find(f"{{{SOAP}}}Body") or []))
        operation = request.tag.rpartition("}")[2]
        self.operations.append(operation)
        if operation not in UNAUTHENTICATED and not self._authenticated(envelope):
            return 400, _fault("ter:NotAuthorized", "Sender not Authorized")
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            return 400, _fault("ter:ActionNotSupported", f"{operation} is not supported")
        return 200, _envelope(handler(request))

    def _authenticated(self, envelope: ET.Element) -> bool:
        token = envelope.find(f".//{{{WSSE}}}UsernameToken")
        if token is None:
            return False
        username = token.findtext(f"{{{WSSE}}}Username")
        digest = token.findtext(f"{{{WSSE}}}Password") or ""
        nonce = base64.b64decode(token.findtext(f"{{{WSSE}}}Nonce") or "")
        created = token.findtext(f"{{{WSU}}}Created") or ""
        expected = hashlib.sha1(nonce + created.encode() + self.password.encode()).digest()
        return username == self.username and digest == base64.b64encode(expected).decode()

    def _op_GetSystemDateAndTime(self, _: ET.Element) -> str:
        now = dt.datetime.now(dt.UTC)
        return (
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
            "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
            f"<tt:UTCDateTime><tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}"
            f"</tt:Minute><tt:Second>{now.second}</tt:Second></tt:Time><tt:Date><tt:Year>"
            f"{now.year}</tt:Year><tt:Month>{now.month}</tt:Month><tt:Day>{now.day}</tt:Day>"
            "</tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        )

    def _services(self) -> list[tuple[str, str]]:
        services = [(TDS, "/onvif/device_service")]
        if self.media:
            services.append((TRT, "/onvif/media_service"))
        return services

    def _op_GetServices(self, _: ET.Element) -> str:
        entries = "".join(
            f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{self.base}{path}"
            "</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor>"
            "</tds:Version></tds:Service>"
            for ns, path in self._services()
        )
        return f"<tds:GetServicesResponse>{entries}</tds:GetServicesResponse>"

    def _op_GetCapabilities(self, _: ET.Element) -> str:
        media = (
            f"<tt:Media><tt:XAddr>{self.base}/onvif/media_service</tt:XAddr>"
            "<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast>"
            "<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>"
            "</tt:StreamingCapabilities></tt:Media>"
            if self.media
            else ""
        )
        return (
            "<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Device>"
            f"<tt:XAddr>{self.base}/onvif/device_service</tt:XAddr></tt:Device>{media}"
            "</tds:Capabilities></tds:GetCapabilitiesResponse>"
        )

    def _op_GetDeviceInformation(self, _: ET.Element) -> str:
        return (
            "<tds:GetDeviceInformationResponse><tds:Manufacturer>Guardian Labs</tds:Manufacturer>"
            "<tds:Model>EmuCam 1</tds:Model><tds:FirmwareVersion>1.2.3</tds:FirmwareVersion>"
            "<tds:SerialNumber>EMU-0001</tds:SerialNumber><tds:HardwareId>HW-7</tds:HardwareId>"
            "</tds:GetDeviceInformationResponse>"
        )

    def _op_GetProfiles(self, _: ET.Element) -> str:
        profiles = "".join(
            f'<trt:Profiles token="{p.token}" fixed="true"><tt:Name>{p.name}</tt:Name>'
            f'<tt:VideoEncoderConfiguration token="enc_{p.token}"><tt:Name>enc</tt:Name>'
            "<tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding><tt:Resolution>"
            f"<tt:Width>{p.width}</tt:Width><tt:Height>{p.height}</tt:Height></tt:Resolution>"
            "<tt:Quality>4</tt:Quality><tt:RateControl>"
            f"<tt:FrameRateLimit>{p.fps}</tt:FrameRateLimit><tt:EncodingInterval>1"
            "</tt:EncodingInterval><tt:BitrateLimit>2048</tt:BitrateLimit></tt:RateControl>"
            "<tt:SessionTimeout>PT60S</tt:SessionTimeout></tt:VideoEncoderConfiguration>"
            "</trt:Profiles>"
            for p in self.profiles
        )
        return f"<trt:GetProfilesResponse>{profiles}</trt:GetProfilesResponse>"

    def _op_GetStreamUri(self, request: ET.Element) -> str:
        token = request.findtext(f"{{{TRT}}}ProfileToken")
        transport = request.findtext(f".//{{{TT}}}Protocol")
        profile = next(p for p in self.profiles if p.token == token)
        assert transport == "RTSP"
        return (
            "<trt:GetStreamUriResponse><trt:MediaUri>"
            f"<tt:Uri>{self.stream_uri(profile)}</tt:Uri>"
            "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
            "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout>"
            "</trt:MediaUri></trt:GetStreamUriResponse>"
        )


def _envelope(body: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>'
        f"<s:Envelope {NAMESPACES}><s:Body>{body}</s:Body></s:Envelope>"
    )


def _fault(subcode: str, reason: str) -> str:
    return _envelope(
        '<s:Fault xmlns:ter="http://www.onvif.org/ver10/error"><s:Code><s:Value>s:Sender'
        f"</s:Value><s:Subcode><s:Value>{subcode}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en">{reason}</s:Text></s:Reason></s:Fault>'
    )


class _Handler(BaseHTTPRequestHandler):
    emulator: OnvifEmulator

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status, reply = self.emulator.answer(body)
        data = reply.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_emulator(emulator: OnvifEmulator) -> Iterator[OnvifEmulator]:
    """Run ``emulator`` on an ephemeral loopback port until the block ends."""
    handler = type("Handler", (_Handler,), {"emulator": emulator})
    server = ThreadingHTTPServer((emulator.host, 0), handler)
    server.daemon_threads = True
    emulator.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield emulator
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _LoopbackPublisher(ThreadedWSPublishing):  # type: ignore[misc]
    """wsdiscovery's publisher, answering over IPv4 only (its IPv6 thread cannot reach
    an IPv4 prober and would die trying)."""

    def sendUnicastMessage(
        self, env: Any, host: str, port: int, initialDelay: int = 0, unicast_num: int = 2
    ) -> None:
        self._networkingThread_v4.addUnicastMessage(env, host, port, initialDelay, unicast_num)


@contextmanager
def publish_camera(xaddr: str, scopes: list[str]) -> Iterator[str]:
    """Advertise an ONVIF NetworkVideoTransmitter on loopback only; yields its endpoint."""
    publisher = _LoopbackPublisher()
    publisher.start()
    # Leave the LAN alone: drop the interfaces the publisher joined, join on loopback instead.
    for addr in _getNetworkAddrs(socket.AF_INET) + _getNetworkAddrs(socket.AF_INET6):
        publisher.removeSourceAddr(addr)
    publisher.addSourceAddr(ipaddress.ip_address("127.0.0.1"))
    publisher.publishService(
        [QName(NVT_NAMESPACE, NVT_TYPE, "dn")], [Scope(s) for s in scopes], [xaddr]
    )
    try:
        yield str(publisher.uuid)
    finally:
        publisher.stop()


SCOPES = [
    "onvif://www.onvif.org/type/video_encoder",
    "onvif://www.onvif.org/name/Shop%20Door",
    "onvif://www.onvif.org/hardware/EmuCam-1",
    "onvif://www.onvif.org/location/city/Lisbon",
]


@pytest.fixture
def emulator() -> Iterator[OnvifEmulator]:
    with serve_emulator(OnvifEmulator()) as running:
        yield running


def test_multicast_discovery_on_loopback_finds_the_camera_with_its_scopes(
    emulator: OnvifEmulator,
) -> None:
    xaddr = f"{emulator.base}/onvif/device_service"
    with publish_camera(xaddr, SCOPES) as endpoint:
        devices = discover(1.5, interface="127.0.0.1")
    [device] = [d for d in devices if d.endpoint == endpoint]
    assert device.xaddrs == (xaddr,)
    assert device.address == "127.0.0.1"
    assert f"{NVT_NAMESPACE}:{NVT_TYPE}" in device.types
    assert (device.name, device.hardware, device.location) == (
        "Shop Door",
        "EmuCam-1",
        "city/Lisbon",
    )
    assert device.device_service() == ("127.0.0.1", emulator.port)


def test_directed_probe_finds_the_camera_and_silence_finds_nothing(
    emulator: OnvifEmulator,
) -> None:
    with publish_camera(f"{emulator.base}/onvif/device_service", SCOPES) as endpoint:
        found = discover(1.0, address="127.0.0.1")
    assert [d.endpoint for d in found] == [endpoint]
    started = time.monotonic()
    assert discover(0.5, address="127.0.0.1", port=_free_udp_port()) == []
    assert time.monotonic() - started < 1.5


def test_read_device_returns_identity_capabilities_and_stream_uris(
    emulator: OnvifEmulator,
) -> None:
    device = asyncio.run(read_device("127.0.0.1", emulator.port, "admin", emulator.password))
    assert device.info.manufacturer == "Guardian Labs"
    assert (device.info.model, device.info.firmware, device.info.serial) == (
        "EmuCam 1",
        "1.2.3",
        "EMU-0001",
    )
    assert {"devicemgmt", "media"} <= set(device.capabilities.services)
    assert device.capabilities.rtsp_over_tcp is True
    by_token = {p.token: p for p in device.profiles}
    main = by_token["prof_main"]
    assert (main.name, main.encoding, main.width, main.height, main.fps) == (
        "MainStream",
        "H264",
        1920,
        1080,
        25.0,
    )
    assert main.stream_uri == "rtsp://127.0.0.1:8554/main"
    assert by_token["prof_sub"].stream_uri == "rtsp://127.0.0.1:8554/sub"
    assert emulator.operations.count("GetStreamUri") == 2


def test_wrong_password_is_reported_as_authentication_failure(emulator: OnvifEmulator) -> None:
    with pytest.raises(OnvifError, match="authentication failed") as caught:
        asyncio.run(read_device("127.0.0.1", emulator.port, "admin", "wrong", timeout_s=5))
    assert caught.value.kind == "auth_failed"
    assert "GetProfiles" not in emulator.operations


def test_device_without_media_service_is_reported() -> None:
    with serve_emulator(OnvifEmulator(media=False)) as running:
        with pytest.raises(OnvifError, match="no ONVIF media service") as caught:
            asyncio.run(read_device("127.0.0.1", running.port, "admin", running.password))
    assert caught.value.kind == "no_media"


def test_device_without_profiles_is_reported() -> None:
    with serve_emulator(OnvifEmulator(profiles=())) as running:
        with pytest.raises(OnvifError, match="no media profiles") as caught:
            asyncio.run(read_device("127.0.0.1", running.port, "admin", running.password))
    assert caught.value.kind == "no_profiles"


def test_refused_connection_is_unreachable_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(OnvifError, match="unreachable") as caught:
        asyncio.run(read_device("127.0.0.1", _free_tcp_port(), "admin", "x", timeout_s=5))
    assert caught.value.kind == "unreachable"
    assert time.monotonic() - started < 5


def test_silent_device_times_out_as_unreachable() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(OnvifError, match=r"did not answer within 0\.5 s") as caught:
            asyncio.run(read_device("127.0.0.1", port, "admin", "x", timeout_s=0.5))
    assert caught.value.kind == "unreachable"
    assert time.monotonic() - started < 3


def test_credentials_are_percent_encoded_into_the_stream_url() -> None:
    uri = "rtsp://old:creds@192.168.1.20:554/Streaming/Channels/101?transport=tcp"
    assert stream_url_with_credentials(uri, "ad min", "p@ss:w/rd") == (
        "rtsp://ad%20min:p%40ss%3Aw%2Frd@192.168.1.20:554/Streaming/Channels/101?transport=tcp"
    )
    assert stream_url_with_credentials("rtsp://[fe80::1]:554/s", "u", "p") == (
        "rtsp://u:p@[fe80::1]:554/s"
    )
    assert stream_url_with_credentials("rtsp://cam/s", "", "") == "rtsp://cam/s"


def _profile(token: str, width: int, height: int, uri: str | None = "rtsp://cam/x") -> MediaProfile:
    return MediaProfile(token, f"name-{token}", "H264", width, height, 15.0, uri)


def test_profile_picking_prefers_the_largest_and_a_smaller_one_for_detection() -> None:
    big, mid, small = _profile("a", 2560, 1440), _profile("b", 1280, 720), _profile("c", 640, 360)
    no_stream = _profile("d", 3840, 2160, uri=None)
    assert pick_profiles([mid, no_stream, big, small]) == (big, small)
    assert pick_profiles([big]) == (big, None)
    assert pick_profiles([big, mid, small], main="name-b") == (mid, small)
    assert pick_profiles([big, mid, small], detect="b") == (big, mid)
    with pytest.raises(OnvifError, match="no profile 'zzz'"):
        pick_profiles([big], main="zzz")
    with pytest.raises(OnvifError, match="no media profile with an RTSP stream"):
        pick_profiles([no_stream])


def _free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
