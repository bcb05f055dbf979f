"""Errors the user can act on. Each renders as one line naming the file (and line where it applies)."""


# Line breaks and other control characters (in a file or folder name, or a value quoted from a file) are shown
# escaped, so that a message stays one line whatever it quotes.
_ESCAPES = {**{c: f"\\x{c:02x}" for c in (*range(32), 0x7F)}, 9: "\\t", 10: "\\n", 13: "\\r",
            0x85: "\\x85", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def one_line(text):
    """`text` with its control characters and line separators escaped."""
    return str(text).translate(_ESCAPES)


class HPD3DError(Exception):
    """Base class for user-facing errors: the message is the whole story, no traceback needed."""

    def __str__(self):
        return one_line(super().__str__())


class InputError(HPD3DError):
    """A bad input file: `path`, optional `line` (1-based) and a message."""

    def __init__(self, path, message, line=None):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class MappingError(HPD3DError):
    """A skeleton that cannot be mapped to the requested joint layout."""


class OutputError(HPD3DError):
    """The output folder cannot be written as asked (exists without --overwrite, not writable, ...)."""
