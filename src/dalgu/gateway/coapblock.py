"""Block-wise uploads (RFC 7959 Block1) taken as the RFC asks, where aiocoap (0.4) does not.

aiocoap reassembles the blocks of an upload but answered 5.00 Internal Server Error, with an
error-level traceback, to a block that does not follow the ones it has (a gap, a block after a
short one); and it took SZX 7, reserved over UDP. Here:

- SZX 7 is a 4.00 Bad Request (§2.2: BERT is for CoAP over reliable transports, RFC 8323);
- a block other than the last whose payload is not its size is a 4.00 (§2.3);
- a block that does not start where the blocks received end (a gap, an overlap, a block
  without block 0) is a 4.08 Request Entity Incomplete (§2.9.2): the device starts again.
"""

from __future__ import annotations

import logging

from aiocoap import Message
from aiocoap.blockwise import Block1Spool, IncompleteException, _extract_block_key

from dalgu.errors import BadRequestData

#: block size exponent reserved for BERT, which UDP has not
BERT = 7


class Block1Assembly(Block1Spool):  # type: ignore[misc]
    """aiocoap's spool of Block1 uploads, refusing a block it cannot append."""

    def feed_and_take(self, req: Message) -> Message:
        block = req.opt.block1
        if block is None:
            return req
        if block.size_exponent == BERT:
            raise BadRequestData(
                "Block1 SZX 7 is reserved: BERT is for CoAP over TCP (RFC 7959 §2.2)"
            )
        if block.more and len(req.payload) != block.size:
            raise BadRequestData(
                f"Block1 block {block.block_number} carries {len(req.payload)} bytes: a block "
                f"other than the last carries exactly its size, {block.size} (RFC 7959 §2.3)"
            )
        if block.block_number > 0:
            try:
                received = len(self._assemblies[_extract_block_key(req)].payload)
            except KeyError:
                received = 0
            if block.start != received:
                raise IncompleteException(
                    f"Block1 block {block.block_number} starts at byte {block.start}, the "
                    f"blocks received end at byte {received}: send the body again from block 0"
                )
        result: Message = super().feed_and_take(req)
        return result


class _NoContinueLines(logging.Filter):
    """aiocoap logs each 2.31 Continue it answers as a 'renderable error' at info level: a
    64 KiB upload in 16-byte blocks was 4,096 log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            str(record.msg).startswith("Render request raised a renderable error")
            and "ContinueException" in str(record.args)
        )


def quiet_continues(logger: logging.Logger) -> None:
    """Drop the 2.31 Continue lines from `logger` (aiocoap's server context's)."""
    if not any(isinstance(f, _NoContinueLines) for f in logger.filters):
        logger.addFilter(_NoContinueLines())
