"""Read ``key = value`` configuration text (``#`` starts a comment)."""


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the key."""


def parse(text):
    """The settings in ``text`` as a dict of strings."""
    settings = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"line {number}: expected 'key = value', got {line!r}")
        settings[key.strip()] = value.strip()
    return settings


def require(settings, key):
    """The value of ``key``; raises ConfigError when it is missing."""
    return settings[key]


def get_int(settings, key):
    """The value of ``key`` as an int; raises ConfigError when it is missing or not an integer."""
    return int(require(settings, key))
