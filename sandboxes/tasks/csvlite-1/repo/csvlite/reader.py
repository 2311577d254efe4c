"""Parse comma-separated lines (RFC 4180 quoting)."""


def parse_line(line):
    """The fields of one line."""
    return [field.strip('"') for field in line.split(",")]


def parse_text(text):
    """The rows of a text, one per non-empty line."""
    return [parse_line(line) for line in text.splitlines() if line.strip()]
