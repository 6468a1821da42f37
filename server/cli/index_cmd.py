"""Placeholder: replaced by the module's owner."""


def register(subparsers) -> None:
    pass
