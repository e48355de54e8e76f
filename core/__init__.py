"""EquiGuard Studio core: all logic behind the studio and the ``equiguard`` CLI.

Subpackages (each re-exports its public names in ``__init__``):

- ``core.io``          medical and natural image loading (DICOM, NIfTI, PNG/JPEG/TIFF)
- ``core.roi``         canvas shapes <-> binary masks in image pixel coordinates
- ``core.store``       the SQLite annotation store, export and import
- ``core.models``      rotation/scale-equivariant layers and the paper-1 architectures
- ``core.datasets``    digits, CIFAR, CIFAR-10-C and the corruption suite
- ``core.training``    supervised trainer and checkpoints
- ``core.attacks``     FGSM / PGD in pixel space
- ``core.robustness``  robustness curves, corruption accuracy, CLEVER
- ``core.explain``     differentiable Grad-CAM and alignment metrics
- ``core.fewshot``     prototypical networks, episodic sampling, medical few-shot data
- ``core.jobs``        background jobs run as CLI subprocesses
- ``core.atomic``      atomic file writes used by everything that saves outside SQLite

This package never imports Streamlit.
"""

from core.errors import ConfigError, EquiGuardError, LoadError

__all__ = ["ConfigError", "EquiGuardError", "LoadError"]
__version__ = "0.1.0"
