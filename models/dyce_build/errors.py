"""The one error type of the builder: a message for the user, one line."""


class BuildError(Exception):
    """Bad input or a failed step; str() is the message the CLI prints."""
