"""Platformatic DB as a peer of the wrapper and the ceiling (`python -m bench.peer`)."""
