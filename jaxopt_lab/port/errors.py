"""The port's one error of its own."""


class PortError(NotImplementedError):
    """The port cannot reproduce this setting exactly, and says which one.

    Raised instead of returning an approximate transformation: an optimizer,
    an option, a scheduler or a state the port does not cover.
    """
