"""Robustness evaluation: accuracy curves under attacks and geometric transforms,
corruption accuracy, CLEVER scores and explanation drift.

Public API::

    accuracy(model, images, labels) -> float           predict(model, images) -> (N,)
    attack_curve(model, images, labels, eps, attack="fgsm"|"pgd", ...) -> Curve (S, E)
    rotation_curve / scale_curve / transform_curve(...) -> Curve
    aggregate_curves(curves, seeds, ci_over) -> Curve  # one row per trained model
    corruption_accuracy(model, images, labels, ...) -> CorruptionResult (name × severity)
    cifar10c_accuracy(model, root, corruptions, severities, n_images) -> CorruptionResult (CIFAR-10-C files)
    clever(model, image, norm, nb_batch, batch_size, radius, target_class) -> CleverResult
    clever_batch(model, images, ...) -> list[CleverResult]
    fit_reverse_weibull(maxima) -> WeibullFit
    explanation_drift(model, clean, adversarial) -> DriftResult (1 − soft Dice, Spearman)
    t_interval(values) -> MeanCI                       # Student-t 95% CI over seeds
    sample_ball(n, dim, radius, norm) -> (n, dim)      # uniform in an L1/L2/L∞ ball
    evaluation_subset(dataset, split, n_images) -> (images, labels); write_json_atomic(path, data)

Worst case and the checks that make it trustworthy::

    run_attack(attack, images, labels, eps, seeds) -> AttackOutcome (S, E, N) robust per image
    evaluate_worst_case(model, images, labels, eps, version="standard", surrogate=None) -> WorstCaseEvaluation
    masking_checks(...) -> [MaskingCheck]; zero_gradient_fraction(model, images, labels)
    minimal_perturbation(model, images, norm, upper) -> MinimalPerturbation; clever_vs_minimal(scores, minimal)
    my_batches / batch_generator / gather_by_key: batches split over torchrun ranks, seeded per batch
"""

from core.robustness.clever import (DEFAULT_SHAPE_INITS, MAX_SHAPE, CleverResult, CleverTarget, WeibullFit,
                                    clever, clever_batch, fit_reverse_weibull)
from core.robustness.cifar10c import CIFAR10C_SHAPE, cifar10c_accuracy, cifar10c_corruptions
from core.robustness.corruption import CorruptionResult, corruption_accuracy
from core.robustness.curves import (Curve, accuracy, aggregate_curves, attack_curve, predict, rotation_curve,
                                    scale_curve, transform_curve)
from core.robustness.drift import DriftResult, explanation_drift, spearman_per_image
from core.robustness.reports import evaluation_subset, json_ready, write_json_atomic, write_text_atomic
from core.robustness.sampling import DUAL_NORM, NORMS, parse_norm, sample_ball
from core.robustness.stats import MeanCI, mean_ci_over_seeds, t_interval
from core.robustness.outcomes import AttackOutcome, run_attack
from core.robustness.masking import (MASKING_CHECKS, MaskingCheck, MaskingThresholds, masking_checks, suspicious,
                                     zero_gradient_fraction)
from core.robustness.minimal import MinimalPerturbation, clever_vs_minimal, minimal_perturbation
from core.robustness.sharding import SINGLE, batch_generator, gather_by_key, my_batches
from core.robustness.worst_case import LARGE_EPS, WEAK_LABEL, WorstCaseEvaluation, evaluate_worst_case

__all__ = [
    "Curve", "accuracy", "predict", "attack_curve", "transform_curve", "rotation_curve", "scale_curve",
    "aggregate_curves",
    "CorruptionResult", "corruption_accuracy", "cifar10c_accuracy", "cifar10c_corruptions", "CIFAR10C_SHAPE",
    "CleverResult", "CleverTarget", "WeibullFit", "clever", "clever_batch", "fit_reverse_weibull",
    "DEFAULT_SHAPE_INITS", "MAX_SHAPE",
    "DriftResult", "explanation_drift", "spearman_per_image",
    "NORMS", "DUAL_NORM", "parse_norm", "sample_ball",
    "MeanCI", "t_interval", "mean_ci_over_seeds",
    "evaluation_subset", "json_ready", "write_json_atomic", "write_text_atomic",
    "AttackOutcome", "run_attack", "WorstCaseEvaluation", "evaluate_worst_case", "LARGE_EPS", "WEAK_LABEL",
    "MaskingCheck", "MaskingThresholds", "MASKING_CHECKS", "masking_checks", "suspicious", "zero_gradient_fraction",
    "MinimalPerturbation", "minimal_perturbation", "clever_vs_minimal",
    "SINGLE", "my_batches", "batch_generator", "gather_by_key",
]
