"""``Enrollment.Enroll``: a bootstrap token redeemed at the control plane buys a client cert."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from cryptography import x509
from google.protobuf.timestamp_pb2 import Timestamp

from guardian.contracts.pb.guardian.v1 import control_pb2, link_pb2, link_pb2_grpc
from guardian.relay.context import ControlClient, RelayContext
from guardian.relay.pki import PkiError
from guardian.relay.store.edges import record_enrollment

logger = logging.getLogger(__name__)

MAX_CSR_BYTES = 16_384


@dataclass(frozen=True, slots=True)
class RedeemedSite:
    """What the control plane said a bootstrap token was for."""

    site_id: str
    tenant_id: str
    site_name: str


class RedeemRefused(Exception):
    """The control plane refused the token (reused, expired, unknown, another tenant's)."""


class ControlUnavailable(Exception):
    """The control plane could not be asked (down, or it does not accept this relay)."""


Redeemer = Callable[[str], RedeemedSite]
"""Redeems a bootstrap token; raises :class:`RedeemRefused` or :class:`ControlUnavailable`."""


def control_redeemer(client: ControlClient | None) -> Redeemer:
    """A :data:`Redeemer` calling ``ControlLink.RedeemBootstrap`` with the relay's token."""

    def redeem(token: str) -> RedeemedSite:
        if client is None:
            raise ControlUnavailable("this relay has no control plane configured")
        try:
            answer = client.stub.RedeemBootstrap(
                control_pb2.RedeemRequest(bootstrap_token=token),
                metadata=client.metadata,
                timeout=client.timeout,
            )
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            detail = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            if code == grpc.StatusCode.PERMISSION_DENIED:
                raise RedeemRefused(detail or "bootstrap token refused") from exc
            raise ControlUnavailable(f"control plane: {code.name if code else 'error'}") from exc
        return RedeemedSite(answer.site_id, answer.tenant_id, answer.site_name)

    return redeem


def _check_csr(csr_pem: str) -> None:
    """Refuse an unusable CSR before the single-use token is spent on it."""
    if len(csr_pem) > MAX_CSR_BYTES:
        raise PkiError("the CSR is too large")
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError as exc:
        raise PkiError("not a PEM certificate signing request") from exc
    if not csr.is_signature_valid:
        raise PkiError("the CSR's signature is invalid")


class EnrollmentServicer(link_pb2_grpc.EnrollmentServicer):
    """Enrols edges: redeem the token at the control plane, sign the CSR, record the edge.

    ``link_port`` is the direct EdgeLink port told to the edge (0: none).
    """

    def __init__(self, ctx: RelayContext, redeem: Redeemer, *, link_port: int = 0) -> None:
        self._ctx = ctx
        self._redeem = redeem
        self._link_port = link_port

    def Enroll(
        self, request: link_pb2.EnrollRequest, context: grpc.ServicerContext
    ) -> link_pb2.EnrollResponse:
        if not request.bootstrap_token or not request.csr_pem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bootstrap_token and csr_pem needed")
        try:
            _check_csr(request.csr_pem)
        except PkiError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        try:
            site = self._redeem(request.bootstrap_token)
        except RedeemRefused as exc:
            logger.warning("enrolment refused by the control plane: %s", exc)
            context.abort(grpc.StatusCode.PERMISSION_DENIED, str(exc))
        except ControlUnavailable as exc:
            logger.warning("enrolment failed: %s", exc)
            context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        try:
            issued = self._ctx.ca.issue_client_certificate(
                request.csr_pem.encode(), site_id=site.site_id, tenant_id=site.tenant_id
            )
        except PkiError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        with self._ctx.sessions.begin() as session:
            record_enrollment(
                session,
                site_id=site.site_id,
                tenant_id=site.tenant_id,
                serial=issued.serial,
                cert_pem=issued.cert_pem.decode(),
                now=self._ctx.clock(),
            )
        logger.info(
            "edge enrolled",
            extra={"site_id": site.site_id, "tenant_id": site.tenant_id, "host": request.hostname},
        )
        not_after = Timestamp()
        not_after.FromDatetime(issued.not_after)
        return link_pb2.EnrollResponse(
            certificate_chain_pem=issued.cert_pem.decode(),
            ca_pem=self._ctx.ca.cert_pem.decode(),
            site_id=site.site_id,
            tenant_id=site.tenant_id,
            relay_id=self._ctx.relay_id,
            not_after=not_after,
            link_port=self._link_port,
        )
