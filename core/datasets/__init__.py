"""Datasets (digits, CIFAR-10/100, CIFAR-10-C, medical images split by patient) and the corruption suite.

Every dataset yields (x (C, H, W) float32 in [0, 1], y int); normalisation
happens inside the models.
"""

from core.datasets.base import SPLITS, ImageDataset, stratified_split
from core.datasets.cifar import RestrictedUnpickler, load_cifar, safe_unpickle
from core.datasets.cifar_c import CIFAR10C_CORRUPTIONS, cifar10_c_available, load_cifar10_c
from core.datasets.corruptions import CORRUPTIONS, SEVERITY_PARAMS, corrupt, psnr
from core.datasets.geometric import rescale_images, rotate_images
from core.datasets.digits import load_digits
from core.datasets.medical import (MEDICAL_DATASETS, PHANTOMS, MedicalImageDataset, MedicalOptions, load_medical,
                                   load_medical_splits, make_phantom, make_spec, parse_spec)
from core.datasets.registry import DATASETS, dataset_normalization, load_dataset

__all__ = [
    "DATASETS", "SPLITS", "ImageDataset", "load_dataset", "load_digits", "load_cifar",
    "RestrictedUnpickler", "safe_unpickle", "stratified_split", "dataset_normalization",
    "CORRUPTIONS", "SEVERITY_PARAMS", "corrupt", "psnr", "rotate_images", "rescale_images",
    "CIFAR10C_CORRUPTIONS", "load_cifar10_c", "cifar10_c_available",
    "MEDICAL_DATASETS", "PHANTOMS", "MedicalImageDataset", "MedicalOptions", "load_medical", "load_medical_splits",
    "make_phantom", "make_spec", "parse_spec",
]
