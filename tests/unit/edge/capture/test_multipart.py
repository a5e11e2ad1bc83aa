"""The in-memory multipart/form-data splitter: the device client's bodies and broken ones."""

from __future__ import annotations

import pytest

from guardian.device.client import build_multipart
from guardian.edge.capture.multipart import (
    MAX_PARTS,
    MultipartError,
    boundary_of,
    parse_form,
)

CT = "multipart/form-data; boundary=b0und"


def test_the_device_clients_body_splits_into_its_fields_and_file() -> None:
    image = b"\xff\xd8\xff" + bytes(range(256)) * 10 + b"\r\n--b0un"  # near-boundary bytes
    body = build_multipart(
        [("device_seq", "7"), ("captured_at", "2024-05-01T12:00:00Z")],
        "image",
        "7.jpg",
        "image/jpeg",
        image,
        "b0und",
    )
    form = parse_form(CT, body)
    assert set(form) == {"device_seq", "captured_at", "image"}
    assert form["device_seq"].text() == "7" and not form["device_seq"].is_file
    assert form["image"].is_file and form["image"].filename == "7.jpg"
    assert form["image"].content_type == "image/jpeg"
    assert form["image"].data == image


def test_a_preamble_and_an_epilogue_are_ignored_and_the_last_repeat_wins() -> None:
    body = (
        b"preamble\r\n--b0und\r\nContent-Disposition: form-data; name=a\r\n\r\n1"
        b'\r\n--b0und\r\nContent-Disposition: form-data; name="a"\r\n\r\n2'
        b"\r\n--b0und--\r\nepilogue"
    )
    assert parse_form(CT, body)["a"].text() == "2"


def test_an_empty_filename_still_makes_a_file_part() -> None:
    body = (
        b'--b0und\r\nContent-Disposition: form-data; name="image"; filename=""\r\n\r\nxy'
        b"\r\n--b0und--\r\n"
    )
    part = parse_form(CT, body)["image"]
    assert part.is_file and part.data == b"xy"


def test_undecodable_text_is_replaced_not_raised() -> None:
    body = b"--b0und\r\nContent-Disposition: form-data; name=s\r\n\r\n\xff1\r\n--b0und--\r\n"
    assert parse_form(CT, body)["s"].text() == "\ufffd1"


@pytest.mark.parametrize(
    ("content_type", "words"),
    [
        ("multipart/form-data", "boundary"),
        ("application/json", "not multipart"),
        ("multipart/form-data; boundary=" + "x" * 201, "boundary"),
    ],
)
def test_a_bad_content_type_is_refused(content_type: str, words: str) -> None:
    with pytest.raises(MultipartError, match=words):
        boundary_of(content_type)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"no boundary anywhere", "no part starts"),
        (b"--b0undjunk\r\n", "line break"),
        (b"--b0und\r\nContent-Disposition: form-data; name=a\r\n", "unterminated"),
        (b"--b0und\r\nContent-Disposition: form-data; name=a\r\n\r\ncut off", "not closed"),
        (b"--b0und\r\nno colon here\r\n\r\nx\r\n--b0und--", "malformed part header"),
        (b"--b0und\r\nContent-Type: text/plain\r\n\r\nx\r\n--b0und--", "no Content-Disp"),
        (b"--b0und\r\nContent-Disposition: attachment\r\n\r\nx\r\n--b0und--", "form-data"),
    ],
    ids=[
        "no-delimiter",
        "junk-after-delimiter",
        "headers-cut",
        "data-cut",
        "bad-header",
        "no-disposition",
        "not-form-data",
    ],
)
def test_broken_bodies_are_refused_saying_why(body: bytes, words: str) -> None:
    with pytest.raises(MultipartError, match=words):
        parse_form(CT, body)


def test_too_many_parts_are_refused() -> None:
    one = b"--b0und\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n"
    with pytest.raises(MultipartError, match=f"more than {MAX_PARTS} parts"):
        parse_form(CT, one * (MAX_PARTS + 1) + b"--b0und--\r\n")
