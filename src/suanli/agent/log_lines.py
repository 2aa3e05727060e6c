"""Log lines that say what happened and nothing more. Text from jobs and the server (a job's
name, a refusal's reason) reaches the agent's log; a newline in it would forge a line of its
own, and an escape sequence would drive the operator's terminal. The formatter escapes control
characters in every rendered message, so no call site has to remember to."""

from __future__ import annotations

import logging
import sys

# C0 controls, DEL, C1 controls and the Unicode line and paragraph separators.
_ESCAPES = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
_ESCAPES |= {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def escape_controls(text: str) -> str:
    """``text`` with every control character written as an escape (``\\n``, ``\\x1b``...)."""
    return text.translate(_ESCAPES)


class OneLineFormatter(logging.Formatter):
    """Escapes control characters in the message once its arguments are in it; a traceback
    (``exc_info``), which is ours and many lines by nature, is kept as it is."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = escape_controls(record.message)
        return super().formatMessage(record)


def configure_logging(level: int, name: str) -> None:
    """Logging to stderr, one escaped line per record, as ``TIME NAME LEVEL MESSAGE``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter(f"%(asctime)s {name} %(levelname)s %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
