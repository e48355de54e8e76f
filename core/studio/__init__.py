"""UI-independent logic behind the studio's pages (never imports Streamlit).

Public API::

    workspace_summary(workspace) -> WorkspaceSummary
    list_models(workspace) -> [ModelEntry]; load_model(entry) -> nn.Module
    list_sources(workspace) -> [Source]; load_source(workspace, source) -> StudioImage
    from_upload(data, name) -> StudioImage
    attack_lab.analyse(model, x (1, C, H, W), attack=..., eps=...) -> AttackView
    event_series(workspace, job_id, stage=None) -> {metric: [(x, value)]}
    planes: image files under <workspace>/images and the 2-D planes the store annotates
    annotate.stack_view / save_edits / submit_stack: what a reader sees of a file, their saves (proposal
        decisions included) and submissions
    reading.reading_order / assistant_choices: the Annotate page's work list, annotate-next order, assisting models
    uploads: the configurable upload limit (EQUIGUARD_MAX_UPLOAD_MB), checked for every upload
    commands: the CLI argv of every job the studio launches
    fewshot_view / robustness_view: finished runs, galleries, plotly figures, exports
"""

from core.studio import (annotate, attack_lab, commands, fewshot_view, image_sources, planes, reading,
                         robustness_view, uploads)
from core.studio.image_sources import Source, StudioImage, from_upload, list_sources, load_source
from core.studio.registry import ModelEntry, list_models, load_model
from core.studio.series import event_series
from core.studio.summary import WorkspaceSummary, workspace_summary

__all__ = [
    "annotate", "attack_lab", "commands", "fewshot_view", "image_sources", "planes", "reading", "robustness_view",
    "uploads",
    "Source", "StudioImage", "from_upload", "list_sources", "load_source",
    "ModelEntry", "list_models", "load_model",
    "event_series",
    "WorkspaceSummary", "workspace_summary",
]
