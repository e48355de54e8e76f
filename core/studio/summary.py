"""The workspace at a glance (Home page counts)."""

from __future__ import annotations

from dataclasses import dataclass

from core.workspace import Workspace

__all__ = ["WorkspaceSummary", "workspace_summary"]


@dataclass(frozen=True)
class WorkspaceSummary:
    images: int
    annotated_images: int
    rois: int
    checkpoints: int
    jobs_active: int
    jobs_total: int


def workspace_summary(workspace: Workspace) -> WorkspaceSummary:
    """Counts of images, annotated images, ROIs, checkpoint files and jobs."""
    from core.jobs import ACTIVE, list_jobs
    from core.store import AnnotationStore
    from core.studio.registry import checkpoint_files

    store = AnnotationStore(workspace)
    images = store.list_images()
    roi_counts = [len(store.list_rois(img.id)) for img in images]
    jobs = list_jobs(workspace)
    n_ckpt = len(checkpoint_files(workspace))
    return WorkspaceSummary(
        images=len(images), annotated_images=sum(1 for n in roi_counts if n), rois=sum(roi_counts),
        checkpoints=n_ckpt, jobs_active=sum(1 for j in jobs if j.status in ACTIVE), jobs_total=len(jobs))
