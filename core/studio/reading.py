"""The reader's work list on the Annotate page: which files, in which order, and which model assists.

A work list is the whole workspace or a task list (:meth:`core.store.AnnotationStore.create_task_list`).
Files are the unit the reader opens; the store ranks and tracks *planes*, so a file
takes the place of its first listed (task list) or most uncertain unread (model
queue) plane, and opens at that plane.  With a model chosen the default order
is "annotate next" (:func:`core.assist.annotate_next`): the reader's unread
planes, most uncertain first, then everything already read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from core.studio.planes import Plane, plane_of, register_plane
from core.workspace import Workspace

__all__ = ["ReadingItem", "reading_order", "default_plane", "register_default_planes", "AssistantChoice",
           "assistant_choices", "load_assistant", "describe_proposal"]


@dataclass(frozen=True)
class ReadingItem:
    """One file of the work list: open it at ``plane`` (None: the file's default view).

    ``image_id`` is the store plane that placed the file here (a task list's or the queue's); ``rank`` the
    file's 1-based place in the model's queue (None when not queued); ``read`` says
    whether the reader has outlined, labelled or submitted every listed plane.
    """

    path: str
    plane: Plane | None = None
    image_id: int | None = None
    rank: int | None = None
    read: bool = False
    predicted: str | None = None
    probability: float | None = None
    uncertainty: float | None = None


def default_plane(image) -> Plane:
    """The plane a file opens on and is registered by: the middle axial slice of a volume, else frame 0."""
    return Plane(image.n_slices("axial") // 2, "axial") if image.is_volume else Plane(0, None)


def register_default_planes(store, paths: Iterable[str | Path], load=None) -> list[int]:
    """Register the :func:`default_plane` of every file in ``paths`` with no plane in the store yet.

    So that every file of the workspace can be ranked; returns the new ids.
    ``load(path)`` reads a file (default :func:`core.io.load_image`).
    """
    from core.io import load_image

    load = load or load_image
    known = {str(Path(rec.source_path)) for rec in store.list_images()}
    added = []
    for path in paths:
        path = Path(path)
        if str(path.resolve()) not in known:
            image = load(str(path))
            added.append(register_plane(store, path, image, default_plane(image)))
    return added


def reading_order(store, files: Sequence[str | Path], *, reader: str | None = None,
                  image_ids: Sequence[int] | None = None, queue: Sequence | None = None) -> list[ReadingItem]:
    """The work list as files in reading order.

    - ``image_ids``: a task list's planes (in its order); only their files are listed.
    - ``queue``: :class:`core.assist.RankedImage` of the reader's unread planes, most
      uncertain first: their files come first, in that order, then the other files.
    - neither: every file in ``files`` order.
    """
    paths = [str(p) for p in files]
    records = store.get_images(image_ids)
    by_path: dict[str, list] = {}
    for rec in sorted(records.values(), key=lambda r: r.id):
        by_path.setdefault(str(Path(rec.source_path)), []).append(rec)
    if image_ids is not None:
        listed = [records[i] for i in image_ids if i in records]
        seen: dict[str, object] = {}
        for rec in listed:
            seen.setdefault(str(Path(rec.source_path)), rec)
        paths = [p for p in seen if Path(p).is_file()]
        first = seen
    else:
        first = {}  # the whole workspace: a file opens at its default view unless the model queued a plane
    overview = {row.image.id: row for row in store.image_overview(reader, image_ids=image_ids)}

    def read(path: str) -> bool:
        rows = [overview[r.id] for r in by_path.get(path, []) if r.id in overview]
        return bool(rows) and reader is not None and all(reader in row.readers or row.submitted for row in rows)

    items: dict[str, ReadingItem] = {}
    listed = set(paths)
    for entry in queue or ():
        rec = records.get(entry.image_id)
        path = None if rec is None else str(Path(rec.source_path))
        if path is None or path in items or path not in listed:
            continue  # a file queues once, at its most uncertain plane
        items[path] = ReadingItem(path, plane_of(rec), rec.id, len(items) + 1, False, entry.predicted,
                                  entry.probability, entry.uncertainty)
    for path in paths:
        if path not in items:
            rec = first.get(path)
            items[path] = ReadingItem(path, None if rec is None else plane_of(rec), None if rec is None else rec.id,
                                      read=read(path))
    return list(items.values())


@dataclass(frozen=True)
class AssistantChoice:
    """A checkpoint that can assist a reader: a symmetry classifier or a few-shot run."""

    kind: str  # "classifier" | "fewshot"
    name: str
    path: Path

    @property
    def label(self) -> str:
        return f"{'few-shot' if self.kind == 'fewshot' else 'classifier'}: {self.name}"


def assistant_choices(workspace: Workspace) -> list[AssistantChoice]:
    """Every readable classifier of the model registry and every finished few-shot run, newest first."""
    from core.studio.fewshot_view import list_runs
    from core.studio.registry import list_models

    runs = [AssistantChoice("fewshot", f"{run.name}/{run.guidance}", run.folder / "checkpoint.pt")
            for run in list_runs(workspace) if (run.folder / "checkpoint.pt").is_file()]
    listed = {Path(choice.path).resolve() for choice in runs}
    # The registry serves few-shot checkpoints too; a studio run already listed above is not offered twice.
    others = [AssistantChoice(entry.kind, entry.name, entry.path) for entry in list_models(workspace)
              if entry.error is None and Path(entry.path).resolve() not in listed]
    return runs + others


def load_assistant(choice: AssistantChoice):
    """The :class:`core.assist.Assistant` of a choice (named like the choice, for proposals' provenance)."""
    from core.assist import ClassifierAssistant, ProtoNetAssistant

    cls = ProtoNetAssistant if choice.kind == "fewshot" else ClassifierAssistant
    return cls(choice.path, name=choice.name)


def describe_proposal(proposal) -> str:
    """Where a proposed ROI came from, in one line a reader can check (model, hash, method, prediction)."""
    m = proposal.method
    kind = {"fewshot": "few-shot", "classifier": "classifier"}.get(m.get("model_kind"), m.get("model_kind", "model"))
    text = (f"{kind} **{proposal.model}** (sha256 {proposal.model_sha256[:12]}…) · "
            f"{str(m.get('explainer', '?')).replace('gradcam', 'Grad-CAM')} ≥ {m.get('threshold')}")
    if m.get("smooth_sigma"):
        text += f", outline smoothed σ {m['smooth_sigma']:g} px"
    if m.get("largest_component"):
        text += ", largest region"
    if "predicted" in m:
        text += f" · predicts **{m['predicted']}**"
        if isinstance(m.get("probability"), (int, float)):
            text += f" ({m['probability']:.0%})"
    return text + f" · {proposal.area} px · proposed {proposal.created_at[:16].replace('T', ' ')} UTC"
