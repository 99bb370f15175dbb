"""One module per venue: wire Structs, decoders, feed specs, normalizers, actions.

Venue modules never import each other; `loanledger.registry` is the only
shared module that imports them.
"""
