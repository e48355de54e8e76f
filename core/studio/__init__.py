"""UI-independent logic behind the studio's pages (never imports Streamlit).

Public API::

    workspace_summary(workspace) -> WorkspaceSummary
    list_models(workspace) -> [ModelEntry]   # symmetry classifiers and few-shot networks (entry.kind)
    load_model(entry) -> nn.Module            # pixels (B, C, H, W) in [0, 1] -> logits (B, K), .cam_layer
    entry.spec -> ModelSpec; check_pair(spec, ImageSpec.of(pixels, ...)) -> ConfigError if they do not fit
    list_sources(workspace) -> [Source]; load_source(workspace, source) -> StudioImage
    from_upload(data, name) -> StudioImage
    attack_lab.analyse(model, x (1, C, H, W), attack=..., eps=..., roi=..., roi_mode=...) -> AttackView
        (with CAM–ROI Dice / pointing game, clean vs attacked, when an ROI is given)
    lab_choices.offer(entries, image) -> Offer(fits, mismatched, unusable); default_source / default_models;
        model_input(image, entry, rotation, scale) -> (x, roi moved together)
    roi_alignment.transform_with_roi / alignment_pair
    event_series(workspace, job_id, stage=None) -> {metric: [(x, value)]}
    planes: image files under <workspace>/images and the 2-D planes the store annotates
    annotate.stack_view / save_edits / submit_stack: what a reader sees of a file, their saves (proposal
        decisions included) and submissions
    reading.reading_order / assistant_choices: the Annotate page's work list, annotate-next order, assisting models
    uploads: the configurable upload limit (EQUIGUARD_MAX_UPLOAD_MB), checked for every upload
    commands: the CLI argv of every job the studio launches
    fewshot_view / robustness_view: finished runs, galleries, plotly figures, exports
"""

from core.studio import (annotate, attack_lab, commands, compat, fewshot_view, image_sources, lab_choices, planes,
                         reading, roi_alignment, robustness_view, uploads)
from core.studio.compat import ImageSpec, ModelSpec, check_pair, pairing_problem, prepare_input
from core.studio.image_sources import Source, StudioImage, from_upload, list_sources, load_source
from core.studio.registry import ModelEntry, list_models, load_model, read_entry
from core.studio.series import event_series
from core.studio.summary import WorkspaceSummary, workspace_summary

__all__ = [
    "annotate", "attack_lab", "commands", "compat", "fewshot_view", "image_sources", "lab_choices", "planes",
    "reading", "roi_alignment", "robustness_view", "uploads",
    "Source", "StudioImage", "from_upload", "list_sources", "load_source",
    "ModelEntry", "list_models", "load_model", "read_entry",
    "ModelSpec", "ImageSpec", "pairing_problem", "check_pair", "prepare_input",
    "event_series",
    "WorkspaceSummary", "workspace_summary",
]
