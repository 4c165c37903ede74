"""Errors that the command line turns into one clear line and exit code 2."""


class ConfigError(ValueError):
    """A leaderboard config is invalid; ``path`` names the field in the YAML (e.g. ``scenarios[0].shots``)."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class UnknownNameError(KeyError):
    """A name that no registry entry has; the message lists the known names and the closest match."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class PluginError(ValueError):
    """A plugin was found but cannot be used (import failed, wrong base class, name clash)."""
