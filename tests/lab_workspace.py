"""A tiny medical workspace for the Attack lab's tests: the demo data (no jobs) and two few-shot runs.

Used by ``test_app_attack_lab_medical.py`` and ``test_attack_lab_browser.py``.
The few-shot models are real ``run_fewshot`` checkpoints (guided and
unguided, conv4 width 16) trained for 40 episodes on the brain phantom at
the size of the demo's phantom images, so the lab pairs them with those.
"""

from __future__ import annotations

from core.workspace import Workspace

__all__ = ["build_lab_workspace", "RUN"]

RUN = "lab-test"


def build_lab_workspace(root) -> Workspace:
    """Demo data + ``reports/fewshot/lab-test/{dice,none}/checkpoint.pt``; about 15 s."""
    import torch

    from core.demo import build_demo
    from core.fewshot import RunConfig, TrainConfig, run_fewshot
    from core.studio.commands import fewshot_out_dir

    ws = Workspace(root)
    build_demo(ws, train=False)
    for guidance in ("dice", "none"):
        torch.manual_seed(0)
        config = RunConfig(dataset="brain-phantom", hidden=16, embed_dim=16, patients=24, slices=4, size=64,
                           eval_episodes=2, cam_episodes=1,
                           train=TrainConfig(way=3, shot=5, query=5, episodes=40, guidance=guidance, seed=0))
        run_fewshot(config, fewshot_out_dir(ws, RUN, guidance))
    return ws
