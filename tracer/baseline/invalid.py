"""The one exception every profile reader raises for a problem at a place in the file."""


class Invalid(Exception):
    """A problem at a location in a profile (a JSON path, a line number); the caller adds the file's name."""
