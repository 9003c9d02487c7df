"""The workbench store: SQLAlchemy engine, typed schema, repositories, migrations.

`db` imports nothing else of ours, so the store can be reasoned about (and tested) alone.
"""

from db.engine import Store, StoreError, default_url, make_engine

__all__ = ["Store", "StoreError", "default_url", "make_engine"]
