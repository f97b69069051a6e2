"""Errors the command line maps to exit codes."""


class UsageError(ValueError):
    """Bad input or arguments: exit code 2, one line on stderr"""
