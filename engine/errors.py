"""The errors a user can meet, each mapped to an exit code once, in ``engine.cli.main``.

``UsageError`` (exit 2): bad input or arguments. ``SettingError`` is a ``UsageError`` that names
the setting, so the command line can say ``--top-p`` where the app says "top-p".
``ModelError`` (exit 1): the model files are missing, corrupt or from another version.
"""


class UsageError(ValueError):
    """Bad input or arguments: exit code 2, one line on stderr."""


class SettingError(UsageError):
    """A generation setting out of range; ``field`` is the setting's name (``top_p``)."""

    def __init__(self, field: str, problem: str, whole: bool = False) -> None:
        self.field, self.problem = field, problem
        super().__init__(problem if whole else f"{field.replace('_', '-')} {problem}")

    def as_flag(self) -> str:
        """The message with the command-line flag: ``--top-p must be in (0, 1] ...``."""
        return str(self) if str(self) == self.problem else f"--{self.field.replace('_', '-')} {self.problem}"


class ModelError(RuntimeError):
    """The model files are missing, corrupt, or from another version (one-line message)."""
