"""Expert-guided explainable few-shot learning.

Public API::

    FewShotData(images (N,C,H,W), labels (N,), masks (N,H,W), groups, class_names)
    split_by_group(data, test_fraction, seed) -> (train, test)   # patient-disjoint
    EpisodicSampler(labels, way, shot, query, episodes, seed, groups, patient_disjoint) -> Episode
    build_backbone(name, in_channels, hidden, weights_path, image_size)   # name in BACKBONES:
        conv4, resnet18, densenet121, parallel_rot, parallel_scale, parallel_rot_scale, cascaded, equivariant
    SymmetryBackbone(name, in_channels, hidden, image_size)   # core.models features; .export()
    ProtoNet(backbone, embed_dim, metric, normalize); .export(); class_prototypes(emb, labels)
    PrototypeClassifier(net, prototypes, class_names, in_channels, image_size)   # pixels -> -distance logits
    load_fewshot_classifier(path) -> (PrototypeClassifier, payload)   # from a checkpoint's support set
    TrainConfig(...); train_fewshot(model, train_data, config, progress)
    evaluate_episodic(model, test_data, way, shot, query, episodes, ...) -> metrics with 95% CIs
    PrototypeScoreTarget(protos, labels, metric, score)   # Grad-CAM target against fixed prototypes
    explanation_checks(model, test_data, way, shot, query, sizes=CheckSizes(...), seed) -> alignment of every
        explainer, randomisation check, deletion/insertion;  check_run(run_config, run_dir, sizes)
    perturbation_report(model, test_data, way, shot, query, episodes, seed, eval_disjoint, cam_score, eps, angles,
        scales, attack, roi_mode, ...) -> accuracy, CAM-ROI Dice, pointing under attack / rotation / scale (95% CIs)
    run_report(run_dir, workspace, episodes, **options)   # the same for a finished run folder, its own test split
    save_checkpoint(...); load_checkpoint(path) -> (model, payload)
    RunConfig(...), RunConfig.from_preset("recommended"|"paper", train={...}, **options)
    prepare_run(config) -> (train, test); run_fewshot(config, out_dir, progress) -> metrics (files in out_dir)
    DEFAULTS, PRESETS, parse_seed           # the one source of defaults (core.fewshot_defaults)
    brain_phantom(..., cue, cue_kind), cxr_phantom(...)    # synthetic, NOT clinical data; CUE_KINDS
"""

from core.fewshot.backbones import (BACKBONES, SYMMETRY_BACKBONES, Backbone, Conv4, TorchvisionBackbone,
                                    build_backbone)
from core.fewshot.checkpoint import build_model, load_checkpoint, model_config, save_checkpoint
from core.fewshot.classifier import PrototypeClassifier, load_fewshot_classifier
from core.fewshot.data import FewShotData, split_by_group
from core.fewshot.datasets import BRAIN_CLASSES, CUE_KINDS, CXR_CLASSES, brain_phantom, cxr_phantom
from core.fewshot.distances import DISTANCES, distance_to_sets, pairwise_distance
from core.fewshot.evaluate import PrototypeScoreTarget, embed, evaluate_episodic
from core.fewshot.experiment import DATASETS, RunConfig, load_split, prepare_run, run_fewshot, write_json
from core.fewshot.explanation_checks import FULL_CHECKS, QUICK_CHECKS, CheckSizes, check_run, explanation_checks
from core.fewshot.guidance import CAM_SCORES, GUIDANCE, EpisodePrototypeTarget
from core.fewshot.protonet import ProtoNet, class_prototypes
from core.fewshot.robustness import perturbation_report, run_report
from core.fewshot.roi_transforms import rescale_with_roi, rotate_with_roi
from core.fewshot.sampler import Episode, EpisodicSampler
from core.fewshot.stats import mean_ci
from core.fewshot.symmetry_backbones import SymmetryBackbone
from core.fewshot.train import TrainConfig, TrainResult, episode_step, train_fewshot
from core.fewshot_defaults import DEFAULT_PRESET, DEFAULTS, PRESETS, Preset, parse_seed

__all__ = [
    "BACKBONES", "SYMMETRY_BACKBONES", "Backbone", "Conv4", "TorchvisionBackbone", "SymmetryBackbone",
    "build_backbone",
    "build_model", "load_checkpoint", "model_config", "save_checkpoint",
    "PrototypeClassifier", "load_fewshot_classifier",
    "FewShotData", "split_by_group",
    "BRAIN_CLASSES", "CXR_CLASSES", "CUE_KINDS", "brain_phantom", "cxr_phantom",
    "DISTANCES", "distance_to_sets", "pairwise_distance",
    "embed", "evaluate_episodic", "PrototypeScoreTarget",
    "DATASETS", "RunConfig", "load_split", "prepare_run", "run_fewshot", "write_json",
    "CheckSizes", "FULL_CHECKS", "QUICK_CHECKS", "explanation_checks", "check_run",
    "CAM_SCORES", "GUIDANCE", "EpisodePrototypeTarget",
    "ProtoNet", "class_prototypes",
    "Episode", "EpisodicSampler",
    "perturbation_report", "run_report", "rotate_with_roi", "rescale_with_roi",
    "mean_ci",
    "TrainConfig", "TrainResult", "episode_step", "train_fewshot",
    "DEFAULT_PRESET", "DEFAULTS", "PRESETS", "Preset", "parse_seed",
]
