"""Few-shot explanation checks: episodic queries explained against their own episode's prototypes."""

from __future__ import annotations

import json

import pytest
import torch

from core.errors import ConfigError
from core.explain import ALIGNMENT_METRICS, EXPLAINERS, build_explainer
from core.fewshot import (TrainConfig, brain_phantom, build_model, evaluate_episodic, split_by_group,
                          train_fewshot)
from core.fewshot.explanation_checks import CheckSizes, episode_queries, explanation_checks

SIZES = CheckSizes(episodes=2, randomisation_images=4, faithfulness_images=5, ig_steps=4, occlusion_patch=8,
                   occlusion_stride=8, deletion_steps=4, batch=7)


@pytest.fixture(scope="module")
def trained():
    data = brain_phantom(12, 3, 32, seed=3, cue="none")
    train, test = split_by_group(data, 0.5, seed=0)
    torch.manual_seed(0)
    model = build_model({"backbone": "conv4", "in_channels": 3, "hidden": 8, "embed_dim": 8,
                         "metric": "squared_euclidean", "normalize": False})
    train_fewshot(model, train, TrainConfig(way=3, shot=2, query=2, episodes=4, guidance="dice",
                                            cam_score="log_prob", alpha=1.0, seed=0))
    return model, test


def test_checks_report_every_explainer_and_leave_the_model_alone(trained):
    model, test = trained
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    out = explanation_checks(model, test, way=3, shot=2, query=2, sizes=SIZES, seed=1000)
    assert model.training and all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert set(out["explainers"]) == set(EXPLAINERS) and out["episodes"] == 2
    json.dumps(out)  # JSON-ready
    for name, entry in out["explainers"].items():
        assert entry["images"] == 12
        for m in ALIGNMENT_METRICS:
            assert 0.0 <= entry["alignment"][m]["mean"] <= 1.0 and entry["alignment"][m]["n"] == 2
        rand = entry["randomisation"]
        assert rand["images"] == 4 and len(rand["spearman"]) == len(rand["layers"]) == 9  # 4 x (conv, BN) + head
        assert rand["layers"][0] == "head"
        faith = entry["faithfulness"]
        assert faith["images"] == 5 and len(faith["auc_images"]["deletion"]) == 5
        for key in ("deletion_auc", "insertion_auc", "deletion_random_auc", "insertion_random_auc"):
            assert 0.0 <= faith[key]["mean"] <= 1.0  # probabilities of the true class


def test_gradcam_row_reproduces_the_evaluation_alignment(trained):
    """Same episodes, same target: the Grad-CAM row equals evaluate_episodic's Grad-CAM alignment."""
    model, test = trained
    out = explanation_checks(model, test, way=3, shot=2, query=2, sizes=SIZES, seed=1000, explainers=["gradcam"])
    ref = evaluate_episodic(model, test, way=3, shot=2, query=2, episodes=2, seed=1000, cam_episodes=2,
                            cam_scores=("log_prob",))
    for m in ALIGNMENT_METRICS:
        assert out["explainers"]["gradcam"]["alignment"][m]["mean"] == pytest.approx(ref["alignment"][m]["mean"],
                                                                                      abs=1e-6)


@pytest.mark.parametrize("name", ["occlusion", "integrated_gradients"])
def test_queries_are_explained_against_their_own_episode(trained, name):
    """Rows of different episodes in one batch give the maps each row gets alone with its episode's prototypes."""
    model, test = trained
    model.eval()
    q = episode_queries(model, test, 3, 2, 2, episodes=3, seed=7)
    assert len(set(q.owners.tolist())) == 3
    torch.testing.assert_close(q.reformed_protos(model, test), q.protos)
    with build_explainer(name, model, **({"patch": 8} if name == "occlusion" else {"steps": 4})) as explain:
        together = explain(test.images[q.rows], q.targets(slice(None), model.metric))
        alone = torch.cat([explain(test.images[q.rows[i:i + 1]], q.targets(slice(i, i + 1), model.metric))
                           for i in range(len(q.rows))])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-4)


def test_bad_sizes_and_names(trained):
    model, test = trained
    with pytest.raises(ConfigError):
        explanation_checks(model, test, way=3, shot=2, query=2, sizes=CheckSizes(episodes=0))
    with pytest.raises(ConfigError, match="unknown explainer"):
        explanation_checks(model, test, way=3, shot=2, query=2, sizes=SIZES, explainers=["lime"])


def test_explain_command(tmp_path, workspace, capsys):
    from core.cli import main
    from core.fewshot import RunConfig, run_fewshot

    run_dir = tmp_path / "run"
    config = RunConfig(dataset="cxr-phantom", hidden=4, embed_dim=4, patients=12, slices=3, size=32,
                       eval_episodes=4, cam_episodes=1,
                       train=TrainConfig(way=3, shot=2, query=2, episodes=2, guidance="none", seed=1))
    run_fewshot(config, run_dir)
    argv = ["--workspace", str(workspace.root), "explain", "--run", str(run_dir), "--quick",
            "--explainers", "gradcam", "occlusion", "--out", str(tmp_path / "checks.json")]
    assert main(argv) == 0
    report = json.loads((tmp_path / "checks.json").read_text())
    assert set(report["explainers"]) == {"gradcam", "occlusion"} and report["seed"] == config.eval_seed
    assert "occlusion" in capsys.readouterr().out
    assert main(["--workspace", str(workspace.root), "explain", "--run", str(tmp_path / "missing")]) == 2
    (run_dir / "metrics.json").write_text("{not json")
    assert main(["--workspace", str(workspace.root), "explain", "--run", str(run_dir)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {tmp_path / 'missing'} is not a few-shot run folder (needs checkpoint.pt and "
                      "metrics.json)", "error: metrics.json is not valid JSON"]
    assert not (tmp_path / "missing").exists()
