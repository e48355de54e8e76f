"""The demo workspace: bundled sample images, phantoms with exact ROIs, digits, demo training jobs.

Everything comes from files shipped inside installed packages (pydicom's and
nibabel's test data) or is generated (phantoms, sklearn digits); nothing is
downloaded.  :func:`build_demo` is idempotent: images are registered by
content hash, phantom ROIs only once, jobs only when neither a checkpoint
nor an earlier demo job exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.atomic import write_bytes_atomic
from core.progress import ProgressCallback, ProgressEvent
from core.workspace import Workspace

__all__ = ["DemoResult", "build_demo", "start_demo_jobs", "DEMO_ANNOTATOR", "DEMO_DICOM_FILES", "DEMO_NIFTI_FILES",
           "demo_jobs", "N_PHANTOMS_PER_CLASS", "N_DIGITS", "PHANTOM_SIZE", "DEMO_PHANTOM_ARCH", "DEMO_PHANTOM_EPOCHS",
           "DEMO_PHANTOM_PATIENTS"]

DEMO_ANNOTATOR = "phantom-generator"
#: pydicom test files: CT, MR, a 30-frame colour ultrasound clip, an RGB image.
DEMO_DICOM_FILES = ("CT_small.dcm", "MR_small.dcm", "examples_ybr_color.dcm", "examples_rgb_color.dcm")
DEMO_NIFTI_FILES = ("anatomical.nii",)
N_PHANTOMS_PER_CLASS = 2
N_DIGITS = 10
#: Side of the demo's phantom images: the phantom generators' and the few-shot runs' default.
PHANTOM_SIZE = 64
#: The symmetry-aware classifier the demo trains on the brain phantom for the Attack lab.
DEMO_PHANTOM_ARCH = "parallel_rot_scale"
#: Its budget: 96 phantom patients, 20 epochs (about 30 s of CPU; 0.78 test accuracy, 95% CI 0.70-0.85,
#: where 48 patients and 30 epochs overfit to 0.46).
DEMO_PHANTOM_EPOCHS = 20
DEMO_PHANTOM_PATIENTS = 96
DEMO_JOB_KIND = "demo"


@dataclass
class DemoResult:
    """What :func:`build_demo` did."""

    images: int = 0
    rois: int = 0
    jobs: list[int] = field(default_factory=list)
    skipped: bool = False
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.skipped:
            return "The workspace already holds images; demo data not added (--if-empty)."
        text = f"Demo workspace ready: {self.images} images, {self.rois} phantom ROIs"
        if self.jobs:
            text += f", {len(self.jobs)} background training jobs started ({', '.join(f'#{j}' for j in self.jobs)})"
        return text + "." + "".join(f" {n}" for n in self.notes)


def _bundled_files() -> list[Path]:
    """Sample files that ship inside pydicom and nibabel (never fetched from the network)."""
    import nibabel
    import pydicom.data

    dicom_dir = Path(pydicom.data.__file__).parent / "test_files"
    nifti_dir = Path(nibabel.__file__).parent / "tests" / "data"
    return [p for p in [dicom_dir / n for n in DEMO_DICOM_FILES] + [nifti_dir / n for n in DEMO_NIFTI_FILES]
            if p.is_file()]


def _write_atomic(path: Path, data: bytes) -> None:
    # Rewriting identical bytes would change the file's mtime and so its cache keys in the studio.
    if not (path.exists() and path.read_bytes() == data):
        write_bytes_atomic(path, data)


def _png_bytes(pixels: np.ndarray) -> bytes:
    """(H, W) or (H, W, 3) in [0, 1] -> 8-bit PNG bytes."""
    import io

    from PIL import Image

    arr = np.uint8(np.clip(np.asarray(pixels), 0, 1) * 255 + 0.5)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _phantom_images():
    """(file name, pixels, class name, ROI mask, dataset) for a few slices of each phantom and class."""
    from core.fewshot import brain_phantom, cxr_phantom

    out = []
    n = 3 * N_PHANTOMS_PER_CLASS
    for tag, data in (("brain", brain_phantom(n_patients=n, images_per_patient=1, size=PHANTOM_SIZE, seed=7)),
                      ("cxr", cxr_phantom(n_patients=n, images_per_patient=1, size=PHANTOM_SIZE, seed=7))):
        for i in range(len(data)):
            img = data.images[i].numpy()
            pixels = img.transpose(1, 2, 0) if img.shape[0] == 3 else img[0]
            name = data.class_names[int(data.labels[i])]
            out.append((f"{tag}-phantom-{i:02d}.png", pixels, name, data.masks[i].numpy(), f"{tag}-phantom"))
    return out


def _digit_images():
    from core.datasets import load_dataset

    digits = load_dataset("digits", "test")
    taken: dict[int, int] = {}
    for i in range(len(digits)):
        y = int(digits.labels[i])
        if y not in taken:
            taken[y] = i
        if len(taken) == min(N_DIGITS, digits.num_classes):
            break
    return [(f"digit-{y}.png", digits.images[i][0].numpy(), digits.classes[y]) for y, i in sorted(taken.items())]


def demo_jobs(workspace: Workspace) -> list[tuple[str, list[str]]]:
    """(title, argv) of the demo's background runs, in the order they run.

    First what the Attack lab opens on: a Dice-guided and an unguided few-shot
    model and a symmetry-aware classifier, all on the brain phantom at the
    size of the demo's phantom images (so they pair with them); then two
    digits classifiers for the Symmetry page.
    """
    from core.studio import commands

    runs = [(f"demo: few-shot brain phantom ({guidance})",
             commands.fewshot_argv(workspace, data="brain-phantom", guidance=guidance, run="demo"))
            for guidance in ("dice", "none")]
    runs.append((f"demo: train {DEMO_PHANTOM_ARCH} on the brain phantom",
                 commands.train_argv(workspace, arch=DEMO_PHANTOM_ARCH, dataset="brain-phantom",
                                     epochs=DEMO_PHANTOM_EPOCHS, size=PHANTOM_SIZE,
                                     patients=DEMO_PHANTOM_PATIENTS)))
    runs += [(f"demo: train {arch}", commands.train_argv(workspace, arch=arch, dataset="digits", epochs=6))
             for arch in ("baseline", "parallel_rot_scale")]
    return runs


def build_demo(workspace: Workspace, *, train: bool = True, if_empty: bool = False,
               progress: ProgressCallback | None = None) -> DemoResult:
    """Fill ``workspace`` with the demo data (and start the demo training jobs when ``train``)."""
    from core.io import load_image
    from core.store import AnnotationStore
    from core.studio.planes import Plane, images_dir, register_plane

    store = AnnotationStore(workspace)
    result = DemoResult()
    if if_empty and store.list_images():
        result.skipped = True
        return result
    folder = images_dir(workspace) / "demo"
    folder.mkdir(parents=True, exist_ok=True)

    def report(step: int, total: int, message: str) -> None:
        if progress is not None:
            progress(ProgressEvent("demo", step, total, message=message))

    samples = _bundled_files()
    phantoms = _phantom_images()
    digits = _digit_images()
    total = len(samples) + len(phantoms) + len(digits)
    step = 0
    for src in samples:
        target = folder / src.name
        _write_atomic(target, src.read_bytes())
        image = load_image(target)
        # One plane per file is registered up front: frame 0, or the middle axial slice of a volume.
        plane = Plane(image.n_slices("axial") // 2, "axial") if image.is_volume else Plane(0, None)
        register_plane(store, target, image, plane)
        result.images += 1
        step += 1
        report(step, total, src.name)
    for name, pixels, class_name, mask, dataset in phantoms:
        target = folder / name
        _write_atomic(target, _png_bytes(pixels))
        image = load_image(target)
        image_id = register_plane(store, target, image, Plane())
        store.set_image_label(image_id, class_name, DEMO_ANNOTATOR)
        if not any(r.annotator == DEMO_ANNOTATOR for r in store.list_rois(image_id, include_deleted=True)):
            store.add_roi(image_id, class_name, mask.astype(bool), annotator=DEMO_ANNOTATOR,
                          geometry={"source": "phantom ground truth", "dataset": dataset})
            result.rois += 1
        result.images += 1
        step += 1
        report(step, total, name)
    for name, pixels, class_name in digits:
        target = folder / name
        _write_atomic(target, _png_bytes(pixels))
        image_id = register_plane(store, target, load_image(target), Plane())
        store.set_image_label(image_id, class_name, DEMO_ANNOTATOR)
        result.images += 1
        step += 1
        report(step, total, name)
    if train:
        result.jobs = start_demo_jobs(workspace, result.notes)
    return result


def start_demo_jobs(workspace: Workspace, notes: list[str] | None = None) -> list[int]:
    """Launch each demo run that has no earlier demo job (unless that one failed); returns new job ids.

    The runs are queued one after the other (``jobs after``): two CPU cores
    train one model at a time faster than four at once.
    """
    from core.jobs import FAILED, launch_job, list_jobs

    earlier = {j.title for j in list_jobs(workspace, kind=DEMO_JOB_KIND) if j.status != FAILED}
    started: list[int] = []
    for title, argv in demo_jobs(workspace):
        if title in earlier:
            continue
        # Independent runs: each waits for the one before only to share the CPU, whatever its outcome.
        queued = ["jobs", "after", "--any-outcome", str(started[-1]), *argv] if started else argv
        started.append(launch_job(workspace, DEMO_JOB_KIND, queued, title=title))
    if notes is not None and not started:
        notes.append("Demo training jobs already exist.")
    return started
