"""What goes on the wire: the DATA payload's fast path gives exactly what the general code gives
(hypothesis), and the command lines are byte for byte smtplib's own."""

from __future__ import annotations

import re
import smtplib
import socket

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailpolicy.runtime.send import _mail_line, _rcpt_line, _wire_data

# Line ends of every kind, dots and the characters around them.
PIECES = st.sampled_from([b"\r\n", b"\n", b"\r", b".", b"..", b"a", b" ", b"=", b"\xc3\xa9"])
DATA = st.lists(st.one_of(PIECES, st.binary(max_size=8)), max_size=40).map(b"".join)


def _general(data: bytes) -> bytes:
    """CRLF line ends, then a second dot at the start of every line: the substitutions it replaced."""
    data = re.sub(rb"(?m)^\.", b"..", re.sub(rb"\r\n|\n|\r", b"\r\n", data))
    return data if data.endswith(b"\r\n") else data + b"\r\n"


@settings(max_examples=3000)
@given(DATA)
@example(b"")
@example(b".")
@example(b".\r\n.\r\n")
@example(b"a\n.b\r.c\r\n..d")
@example(b"\r\r\n\n")
def test_wire_data_matches_the_general_substitutions(data: bytes) -> None:
    assert _wire_data(data) == _general(data)


def test_a_composed_message_is_dot_stuffed() -> None:
    """GIVEN a quoted-printable line starting with a dot WHEN sent THEN the dot is doubled."""
    assert _wire_data(b"Subject: x\r\n\r\nline\r\n.start\r\n") == b"Subject: x\r\n\r\nline\r\n..start\r\n"


def _written_by_smtplib(
    call: str, address: str, options: list[str], encoding: str = "ascii"
) -> tuple[bytes, str]:
    """The bytes smtplib's mail()/rcpt() write on a real socket, and the command encoding after."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        smtp = smtplib.SMTP()
        smtp.command_encoding = encoding
        smtp.sock = ours
        smtp.does_esmtp = True
        smtp.esmtp_features = {"smtputf8": "", "8bitmime": ""}
        theirs.sendall(b"250 OK\r\n")
        if call == "mail":
            assert smtp.mail(address, options) == (250, b"OK")
        else:
            assert smtp.rcpt(address) == (250, b"OK")
        theirs.settimeout(5)
        written = theirs.recv(65536)
        smtp.file = None  # the makefile() reader is closed with the socket
        return written, smtp.command_encoding


ALL_OPTIONS = [[], ["BODY=8BITMIME"], ["SMTPUTF8"], ["SMTPUTF8", "BODY=8BITMIME"]]
WITH_SMTPUTF8 = [o for o in ALL_OPTIONS if "SMTPUTF8" in o]  # a non-ASCII address needs SMTPUTF8
LINE_CASES = [
    (address, options)
    for address in ["inbox@mailer.example", "jürgen@exämple.be", "Jan <a@x.be>", "a..b@x.be"]
    for options in (ALL_OPTIONS if address.isascii() else WITH_SMTPUTF8)
]


@pytest.mark.parametrize(("address", "options"), LINE_CASES)
def test_command_lines_are_smtplibs_own(address: str, options: list[str]) -> None:
    """GIVEN an address and MAIL options WHEN our MAIL and RCPT lines are built THEN they are, encoded
    as the session would encode them, exactly what smtplib's mail() and rcpt() write on a socket,
    and the session's command encoding ends the same (UTF-8 after SMTPUTF8)."""
    written, encoding = _written_by_smtplib("mail", address, options)
    session = smtplib.SMTP()
    line = _mail_line(session, address, options)
    assert (line.encode(session.command_encoding), session.command_encoding) == (written, encoding)
    written, _ = _written_by_smtplib("rcpt", address, [], encoding)
    assert _rcpt_line(address).encode(encoding) == written


def test_a_line_break_in_an_address_is_refused_like_smtplib() -> None:
    """GIVEN an address holding CRLF WHEN its command line is built THEN smtplib's own ValueError."""
    address = "\r\n"  # smtplib's quoteaddr() drops most line breaks, not this one
    with pytest.raises(ValueError) as ours:
        _rcpt_line(address)
    with pytest.raises(ValueError) as theirs:
        smtplib.SMTP().rcpt(address)
    assert str(ours.value) == str(theirs.value)
