"""The store layer: everything that knows bytes on disk.

- :mod:`coaching.store.codec`: topics, JSON, upcasters; eventsourcing's mapper for our events.
- :mod:`coaching.store.chain`: the tamper-evidence hash chain and the recorders that write it.
- :mod:`coaching.store.record`: one stored event as recorded (what every reader yields).
- :mod:`coaching.store.source`: raw readers of SQLite stores, running applications and exports.

Arrows point down only: this package imports the domain and eventsourcing, never the
application, the wire (``gws``), the audit tools or the command line (``tests/unit/test_layers.py``).
"""
