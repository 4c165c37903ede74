"""Errors that the command line turns into one clear line and exit code 2."""


class ConfigError(ValueError):
    """A leaderboard config is invalid; ``path`` names the field in the YAML (e.g. ``scenarios[0].shots``)."""

    MAX_PATH = 120
    MAX_MESSAGE = 400

    def __init__(self, path: str, message: str):
        # whatever a config holds, the line stays readable: long parts are cut
        self.path = path if len(path) <= self.MAX_PATH else path[: self.MAX_PATH] + "..."
        self.message = message if len(message) <= self.MAX_MESSAGE else message[: self.MAX_MESSAGE] + "..."
        path, message = self.path, self.message
        super().__init__(f"{path}: {message}" if path else message)


class UnknownNameError(KeyError):
    """A name that no registry entry has; the message lists the known names and the closest match."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class PluginError(ValueError):
    """A plugin was found but cannot be used (import failed, wrong base class, name clash)."""
