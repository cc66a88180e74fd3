"""Exception types with messages meant for users (the CLI prints them without a traceback)."""
from __future__ import annotations


class JudgebenchError(Exception):
    """Base class: an error whose message is shown to the user as is."""

    exit_code = 2


class ConfigError(JudgebenchError):
    """Bad command-line flag, run config, task YAML or backend option."""


class PluginError(JudgebenchError):
    """Unknown, duplicated or broken plugin, or a plugin whose extra is not installed."""


class DataError(JudgebenchError):
    """A data row that fails validation; names the file, the row and the field."""

    def __init__(self, source: str, row: int | str, field: str, message: str):
        self.source, self.row, self.field, self.message = source, row, field, message
        super().__init__(f"{source}: row {row}: field '{field}': {message}")


class BudgetExceeded(JudgebenchError):
    """The run stopped before crossing --max-cost; resume it with a higher budget."""

    exit_code = 3


class MissingExtra(PluginError):
    def __init__(self, what: str, extra: str, cause: BaseException | None = None):
        msg = f"{what} needs: pip install 'judgebench[{extra}]'"
        if cause is not None:
            msg += f" ({type(cause).__name__}: {cause})"
        super().__init__(msg)


class StorageError(JudgebenchError):
    """A run store or cache that is damaged, or a disk that is full; names the file. Nothing is replaced."""
