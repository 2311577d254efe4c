from confparse.loader import ConfigError, get_int, parse, require

__all__ = ["ConfigError", "get_int", "parse", "require"]
