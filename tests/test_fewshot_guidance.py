"""Statistical test: with a spurious cue, Dice guidance moves Grad-CAM onto the expert ROI.

Measured at these sizes (brain phantom, conv4 width 16, 60 episodes, alpha 1,
log-probability CAM target, first-order Grad-CAM with min-max CAMs: the
defaults), on patient-disjoint test episodes: guided minus unguided CAM-ROI
Dice on held-out patients was +0.076 (seed 0) and +0.098 (seed 1); seeds 2
and 3 gave +0.061 and +0.065.  (Second order gave +0.073 and +0.001 on
seeds 0 and 1.)  The test asks for about half the smaller margin on each seed.
"""

from __future__ import annotations

import pytest
import torch

from core.fewshot import RunConfig, TrainConfig, build_model, evaluate_episodic, load_split, train_fewshot


MARGIN = 0.035


def _dice(seed: int, guidance: str) -> float:
    cfg = RunConfig(dataset="brain-phantom", spurious=True, hidden=16, patients=24, size=48,
                    train=TrainConfig(episodes=60, guidance=guidance, alpha=1.0, cam_score="log_prob", seed=seed,
                                      first_order=True, cam_norm="minmax"))
    train, test = load_split(cfg)
    assert train.patients().isdisjoint(test.patients())
    torch.manual_seed(seed)
    model = build_model({"backbone": "conv4", "in_channels": 3, "hidden": 16, "embed_dim": 32,
                         "metric": "squared_euclidean", "normalize": False})
    train_fewshot(model, train, cfg.train)
    out = evaluate_episodic(model, test, episodes=60, cam_episodes=10, cam_scores=("log_prob",))
    return out["alignment"]["dice"]["mean"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_guidance_raises_cam_roi_dice_under_spurious_cue(seed):
    guided, unguided = _dice(seed, "dice"), _dice(seed, "none")
    assert guided - unguided > MARGIN, (guided, unguided)
