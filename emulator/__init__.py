"""The numspec emulator: a reference server for FreeClimb and Restcomm phone numbers.

Layers, lowest first: ``store`` (SQLite, schema, migrations, the number pool, cursors),
``inventory`` and ``accounts`` (seed data and credentials), then one ``*_logic`` module per
provider that turns requests into wire-shaped dicts or ``errors.ProviderError``.
"""
