"""The annotation store: one SQLite file per workspace (``workspace.db_path``)."""

from __future__ import annotations

from core.store.blinding import BlindingMixin
from core.store.bulk import BulkMixin
from core.store.database import Database
from core.store.images import ImagesMixin
from core.store.jobs import JobsMixin
from core.store.labels import LabelsMixin
from core.store.overview import OverviewMixin
from core.store.proposals import ProposalsMixin
from core.store.readers import ReadersMixin
from core.store.rois import RoisMixin

__all__ = ["AnnotationStore"]


class AnnotationStore(ImagesMixin, RoisMixin, LabelsMixin, ReadersMixin, BlindingMixin, OverviewMixin,
                      ProposalsMixin, BulkMixin, JobsMixin, Database):
    """Images, versioned ROIs, per-reader class labels, reader profiles and blinding, proposals, jobs.

    ``AnnotationStore(workspace)`` or ``AnnotationStore("path/to/file.sqlite")``.
    Safe to share between threads (each thread gets its own connection) and to
    open from several processes at once; every write is one durable
    transaction.  Export/import of de-identified bundles: :mod:`core.store.export`.
    """
