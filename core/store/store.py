"""The annotation store: one SQLite file per workspace (``workspace.db_path``)."""

from __future__ import annotations

from core.store.database import Database
from core.store.images import ImagesMixin
from core.store.jobs import JobsMixin
from core.store.labels import LabelsMixin
from core.store.rois import RoisMixin

__all__ = ["AnnotationStore"]


class AnnotationStore(ImagesMixin, RoisMixin, LabelsMixin, JobsMixin, Database):
    """Images, versioned ROIs, image class labels and background jobs.

    ``AnnotationStore(workspace)`` or ``AnnotationStore("path/to/file.sqlite")``.
    Safe to share between threads (each thread gets its own connection) and to
    open from several processes at once; every write is one durable
    transaction.  Export/import of de-identified bundles: :mod:`core.store.export`.
    """
