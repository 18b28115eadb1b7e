"""Stateless object checks shared by archive, gateway and monitor (one module per check in ``checks/``).

The entry points are in :mod:`radguard.inspect.api`: ``inspect_bytes``, ``inspect_dataset``,
``inspect_path`` and ``unreadable``.
"""
