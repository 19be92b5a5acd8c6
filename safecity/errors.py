"""Error hierarchy shared by every package.

A ``TransientError`` (timeout, broker down) may be retried; a ``PermanentError``
(unreadable input, invalid configuration) goes to a person with its reason.
"""

from __future__ import annotations


class SafeCityError(Exception):
    """Root of every error the system raises on purpose."""


class TransientError(SafeCityError):
    """A failure that may pass if the same work is retried later."""


class PermanentError(SafeCityError):
    """A failure that retrying cannot fix; a person has to look at the input."""


class ConfigError(PermanentError):
    """An invalid configuration file.

    Attributes:
        path: the file that was read.
        problems: one human-readable line per problem, each naming the field.
    """

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: invalid camera configuration:\n  " + "\n  ".join(problems))


class InputError(PermanentError):
    """An input file (video, truth, result) that is missing or unreadable."""
