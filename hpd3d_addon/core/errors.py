"""Errors the user can act on. Each renders as one line naming the file (and line where it applies)."""


class HPD3DError(Exception):
    """Base class for user-facing errors: the message is the whole story, no traceback needed."""


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
