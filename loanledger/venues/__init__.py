"""One module per venue: wire Structs, decoders, feed specs, normalizers, actions.

Venue modules never import each other; `loanledger.registry` is the only
shared module that imports them.
"""

__all__: list[str] = []  # the venue modules are imported by name: loanledger.venues.okx, ...
