"""The pure domain core: commands, events, errors, and one module of rules per aggregate.

Nothing here performs I/O or reads a clock; ``decide`` and each aggregate's ``evolve`` are pure.
"""
