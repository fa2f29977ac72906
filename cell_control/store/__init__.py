"""The record store: SQLAlchemy models, migrations, the writer API and the radiograph folder."""

from cell_control.store.images import ImageStore
from cell_control.store.store import PartCycleRecord, Store, StoreError

__all__ = ["ImageStore", "PartCycleRecord", "Store", "StoreError"]
