"""Audit by replay: read a recorded log (a store or an export), check it, report it, verify it.

Nothing here trusts the code that wrote the log: every answer is computed from the records
themselves, in recorded order.
"""
