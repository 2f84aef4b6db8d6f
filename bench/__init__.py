"""A reproducible benchmark of the wrapper against a hand-written ceiling app (run by hand)."""
