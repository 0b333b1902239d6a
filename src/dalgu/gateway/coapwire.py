"""What RFC 7252 asks of a CoAP message before it is processed, and aiocoap (0.4) does not check.

aiocoap decodes a token of any length the header gives and passes options it does not know on
to the resource, which then answered 2.04 to a request it could not have understood. So each
message the CoAP southbound receives passes here first:

- a token length of 9 to 15 is reserved (§3): a message format error, so a Confirmable message
  is rejected with a Reset and any other ignored (§4.2, §4.3), never processed;
- a payload marker followed by no payload is a message format error too (§3), handled alike
  (aiocoap took it as an empty payload);
- a request for a proxy (Proxy-Uri, Proxy-Scheme) is a 5.05 Proxying Not Supported (§5.7.2,
  §5.10.2): the southbound is no proxy;
- a critical (odd-numbered) option the southbound does not recognise makes a Confirmable
  request a 4.02 Bad Option, naming the option, and a Non-confirmable one is ignored (§5.4.1).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import aiocoap
from aiocoap.messagemanager import MessageManager
from aiocoap.numbers import OptionNumber

log = logging.getLogger(__name__)

MAX_TOKEN_LENGTH = 8

#: the critical options the southbound acts on: the request URI (RFC 7252 §5.10.1), Accept,
#: block-wise transfers (RFC 7959, reassembled by aiocoap) and their Request-Tag (RFC 9175,
#: part of aiocoap's block key), the path abbreviation aiocoap's site expands. Not proxying,
#: OSCORE, EDHOC, Q-Block or conditional requests (If-Match, If-None-Match).
RECOGNISED_CRITICAL = frozenset(
    {
        OptionNumber.URI_HOST,
        OptionNumber.URI_PORT,
        OptionNumber.URI_PATH,
        OptionNumber.URI_PATH_ABBREV,
        OptionNumber.URI_QUERY,
        OptionNumber.ACCEPT,
        OptionNumber.BLOCK2,
        OptionNumber.BLOCK1,
        OptionNumber.REQUEST_TAG,
    }
)


PROXY_OPTIONS = frozenset({OptionNumber.PROXY_URI, OptionNumber.PROXY_SCHEME})
_MARKER = 0xFF
_RESET = 3


def empty_payload_after_marker(datagram: bytes) -> bool:
    """The datagram's options end in a payload marker with nothing after it (RFC 7252 §3)."""
    if len(datagram) < 4:
        return False
    at = 4 + (datagram[0] & 0x0F)
    while at < len(datagram):
        if datagram[at] == _MARKER:
            return at == len(datagram) - 1
        delta, length = datagram[at] >> 4, datagram[at] & 0x0F
        if 15 in (delta, length):
            return False  # another format error: aiocoap's to refuse
        _, at = _extended(delta, datagram, at + 1)
        length, at = _extended(length, datagram, at)
        at += length
    return False


def _extended(nibble: int, datagram: bytes, at: int) -> tuple[int, int]:
    """An option delta or length from its nibble and extended bytes at `at` (§3.1), and where
    what follows them starts."""
    if nibble == 13:
        return int.from_bytes(datagram[at : at + 1], "big") + 13, at + 1
    if nibble == 14:
        return int.from_bytes(datagram[at : at + 2], "big") + 269, at + 2
    return nibble, at


def unrecognised_critical(message: aiocoap.Message) -> list[int]:
    """The numbers of the message's critical options that the southbound does not act on."""
    return sorted(
        {
            int(option.number)
            for option in message.opt.option_list()
            if option.number.is_critical() and option.number not in RECOGNISED_CRITICAL
        }
    )


def guard(context: Any) -> None:
    """Check each message `context` (an aiocoap server context) receives over UDP before its
    message layer takes it (deduplication, acknowledgement, the resources)."""
    guarded = 0
    for interface in context.request_interfaces:
        manager = getattr(interface, "token_interface", None)
        if isinstance(manager, MessageManager):
            manager.dispatch_message = _Guard(manager, manager.dispatch_message)
            guarded += 1
        messages: Any = getattr(manager, "message_interface", None)
        receive = getattr(messages, "datagram_msg_received", None)
        if receive is not None:
            messages.datagram_msg_received = _DatagramGuard(messages, receive)
    if not guarded:  # another aiocoap, arranged otherwise: say so rather than check nothing
        log.warning("CoAP messages are not checked for format errors and unknown critical options")


class _DatagramGuard:
    """What only the datagram's bytes show: a payload marker with no payload after it."""

    def __init__(self, messages: Any, receive: Any) -> None:
        self.messages = messages
        self.receive = receive

    def __call__(self, data: bytes, ancdata: Any, flags: int, address: Any) -> None:
        if not empty_payload_after_marker(data):
            self.receive(data, ancdata, flags, address)
            return
        log.warning(
            "CoAP message from %s refused: a payload marker with no payload (RFC 7252 §3)",
            address,
        )
        if (data[0] >> 4) & 0x03 == aiocoap.CON:
            reset = bytes([0x40 | _RESET << 4, 0]) + data[2:4]
            self.messages.transport.sendmsg(reset, [], 0, address)


class _Guard:
    def __init__(self, manager: MessageManager, dispatch: Any) -> None:
        self.manager = manager
        self.dispatch = dispatch

    def __call__(self, message: aiocoap.Message) -> None:
        if len(message.token) > MAX_TOKEN_LENGTH:
            log.warning(
                "CoAP message from %s refused: token length %d is reserved (RFC 7252 §3)",
                message.remote,
                len(message.token),
            )
            if message.mtype == aiocoap.CON:
                self._send(
                    aiocoap.Message(_mtype=aiocoap.RST, _mid=message.mid, code=aiocoap.EMPTY),
                    message,
                )
            return
        request = message.code.is_request()
        if request and any(o.number in PROXY_OPTIONS for o in message.opt.option_list()):
            log.warning("CoAP request from %s refused: Dalgu is no proxy", message.remote)
            answer = aiocoap.Message(
                _mtype=aiocoap.ACK if message.mtype == aiocoap.CON else aiocoap.NON,
                _mid=message.mid if message.mtype == aiocoap.CON else secrets.randbits(16),
                code=aiocoap.PROXYING_NOT_SUPPORTED,
                _token=message.token,
                payload=b"Dalgu's CoAP southbound is no proxy (Proxy-Uri, Proxy-Scheme)",
            )
            self._send(answer, message)
            return
        unknown = unrecognised_critical(message) if request else []
        if unknown:
            names = ", ".join(str(number) for number in unknown)
            log.warning(
                "CoAP request from %s refused: unrecognised critical option %s",
                message.remote,
                names,
            )
            if message.mtype == aiocoap.CON:
                answer = aiocoap.Message(
                    _mtype=aiocoap.ACK,
                    _mid=message.mid,
                    code=aiocoap.BAD_OPTION,
                    _token=message.token,
                    payload=f"unrecognised critical option {names}".encode(),
                )
                self._send(answer, message)
            return
        self.dispatch(message)

    def _send(self, answer: aiocoap.Message, to: aiocoap.Message) -> None:
        # straight to the wire, as aiocoap sends its own Reset to a ping: the message layer
        # never saw the message, so there is no exchange to keep
        answer.remote = to.remote.as_response_address()
        self.manager.message_interface.send(answer)
