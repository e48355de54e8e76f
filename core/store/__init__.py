"""The annotation store: images, versioned ROIs, class labels and jobs in one SQLite (WAL) file.

``AnnotationStore(workspace)`` is the whole API for pages, CLI commands and
jobs; ``export_bundle`` / ``import_bundle`` move annotations in and out as a
de-identified folder of PNG/NIfTI masks plus a JSON manifest.

Reader studies (schema 2): every ROI, ROI version and class label records its
reader (``annotator``); ``register_reader(name, role)`` gives a name a role
(``reader`` / ``adjudicator``); class labels are per reader
(``set_image_label``, ``reader_labels``; ``get_image_label(id)`` is the
resolved label, see :func:`resolve_label`).  Blinded mode
(``set_workspace_blinded``, ``create_task_list(..., blinded=True)``) hides
other readers' work until ``submit_image``: ask ``visible_rois(image, reader)``
/ ``visible_labels``.  ``image_overview`` and ``live_roi_masks`` list the whole
workspace in a fixed number of queries.  ``add_proposal`` / ``decide_proposal``
keep model-proposed ROIs with their provenance.  ``backup_store`` /
``restore_store`` copy the whole database online, and a damaged or newer
store is refused at start-up (``check_store``).
"""

from core.store.bulk import BulkSummary, PlaneRois
from core.store.backup import BackupResult, RestoreResult, backup_store, restore_store
from core.store.database import utc_now
from core.store.errors import ManifestError, NotFoundError, StaleVersionError, StoreError
from core.store.export import ExportResult, export_bundle
from core.store.health import check_database_file, check_store
from core.store.images import sha256_bytes, sha256_file
from core.store.importer import ImportSummary, import_bundle
from core.store.jobs import MAX_JOB_EVENTS
from core.store.labels import resolve_label
from core.store.masks import decode_mask, encode_mask, mask_digest
from core.store.overview import RoiMaskRow
from core.store.readers import MAX_READER_NAME, validate_reader_name
from core.store.records import (DECISIONS, FINAL_JOB_STATUSES, JOB_STATUSES, ROLES, ImageLabel, ImageOverview,
                                ImageRecord, Job, Proposal, ProposalDecision, Reader, RoiRecord, RoiVersion,
                                Submission, TaskList)
from core.store.schema import SCHEMA_VERSION
from core.store.store import AnnotationStore

__all__ = [
    "AnnotationStore",
    "ImageRecord", "RoiRecord", "RoiVersion", "ImageLabel", "Job",
    "JOB_STATUSES", "FINAL_JOB_STATUSES", "MAX_JOB_EVENTS", "SCHEMA_VERSION",
    "Reader", "ROLES", "MAX_READER_NAME", "validate_reader_name", "resolve_label",
    "PlaneRois", "BulkSummary", "TaskList", "Submission", "ImageOverview", "RoiMaskRow", "Proposal", "ProposalDecision", "DECISIONS",
    "StoreError", "NotFoundError", "StaleVersionError", "ManifestError",
    "export_bundle", "ExportResult", "import_bundle", "ImportSummary",
    "encode_mask", "decode_mask", "mask_digest", "sha256_file", "sha256_bytes", "utc_now",
    "backup_store", "BackupResult", "restore_store", "RestoreResult", "check_database_file", "check_store",
]
