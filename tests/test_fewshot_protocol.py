"""The few-shot evaluation protocol: patient-disjoint episodes, separate seeds, one source of defaults."""

from __future__ import annotations

import inspect
import itertools
from dataclasses import asdict, fields

import numpy as np
import pytest
import torch

from core.cli import build_parser, main
from core.cli.fewshot import run_config
from core.errors import ConfigError
from core.fewshot import (DEFAULTS, PRESETS, EpisodicSampler, FewShotData, RunConfig, TrainConfig, brain_phantom,
                          build_model, evaluate_episodic, load_checkpoint, load_split, parse_seed, prepare_run,
                          run_fewshot)
from core.fewshot.sampler import _can_split
from core.studio import commands


@pytest.fixture(scope="module")
def phantom():
    """12 patients (4 per class), 4 slices each."""
    return brain_phantom(n_patients=12, images_per_patient=4, size=32, seed=0)


def _mixed_patients() -> FewShotData:
    """BraTS-like: 10 patients whose slices fall into several classes (the dominant label varies by slice)."""
    rng = np.random.default_rng(0)
    labels, groups = [], []
    for p in range(10):
        for _ in range(6):
            labels.append(int(rng.integers(0, 3)))
            groups.append(f"case-{p}")
    n = len(labels)
    return FewShotData(torch.rand(n, 1, 8, 8), torch.tensor(labels), torch.zeros(n, 8, 8, dtype=torch.bool),
                       groups, ["a", "b", "c"])


def _sides(data: FewShotData, ep) -> tuple[set[str], set[str]]:
    return {data.groups[i] for i in ep.support.tolist()}, {data.groups[i] for i in ep.query.tolist()}


# ------------------------------------------------------------------ patient-disjoint episodes
@pytest.mark.parametrize("source", ["phantom", "mixed"])
def test_no_patient_is_in_both_the_support_and_the_query_of_any_episode(source, phantom):
    data = phantom if source == "phantom" else _mixed_patients()
    shot, query = 2, 2
    sampler = EpisodicSampler(data.labels, 3, shot, query, episodes=300, seed=1, groups=data.groups,
                              patient_disjoint=True)
    for ep in sampler:
        support, queries = _sides(data, ep)
        assert support.isdisjoint(queries)
        rows = ep.support.tolist() + ep.query.tolist()
        assert len(set(rows)) == len(rows)
        assert torch.equal(data.labels[ep.support], ep.classes[ep.support_labels])
        assert torch.equal(data.labels[ep.query], ep.classes[ep.query_labels])
    # Without the rule the same data does put one patient on both sides: the property above is not vacuous.
    loose = EpisodicSampler(data.labels, 3, shot, query, episodes=300, seed=1, groups=data.groups)
    assert any(not set.isdisjoint(*_sides(data, ep)) for ep in loose)


def test_patient_disjoint_sampling_is_seeded(phantom):
    a = EpisodicSampler(phantom.labels, 3, 2, 2, seed=5, groups=phantom.groups, patient_disjoint=True).sample()
    b = EpisodicSampler(phantom.labels, 3, 2, 2, seed=5, groups=phantom.groups, patient_disjoint=True).sample()
    assert torch.equal(a.support, b.support) and torch.equal(a.query, b.query)


def test_construction_names_the_class_that_lacks_patients(phantom):
    # 'speckled' keeps one patient (4 slices): enough images for 2+2, not from two patients.
    keep = [i for i, g in enumerate(phantom.groups) if int(phantom.labels[i]) < 2 or g == phantom.groups[8]]
    data = phantom.subset(keep)
    assert int((data.labels == 2).sum()) == 4
    EpisodicSampler(data.labels, 3, 2, 2, groups=data.groups)  # fine when patients may repeat
    with pytest.raises(ConfigError, match=r"patient-disjoint 3-way 2-shot 2-query .*class 'speckled' has 1 "
                                          r"patient with 4 images$") as err:
        EpisodicSampler(data.labels, 3, 2, 2, groups=data.groups, patient_disjoint=True, class_names=data.class_names)
    assert "\n" not in str(err.value) and "ring-enhancing" not in str(err.value)
    with pytest.raises(ConfigError, match="patient id"):
        EpisodicSampler(data.labels, 3, 2, 2, patient_disjoint=True)
    with pytest.raises(ConfigError, match="the data has 3 classes$"):
        EpisodicSampler(phantom.labels, 4, 1, 1, groups=phantom.groups, patient_disjoint=True)


def test_split_feasibility_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(300):
        counts = rng.integers(1, 7, size=int(rng.integers(1, 6))).tolist()
        shot, query = int(rng.integers(1, 8)), int(rng.integers(1, 8))
        brute = any(sum(s) >= shot and sum(counts) - sum(s) >= query
                    for r in range(len(counts) + 1) for s in itertools.combinations(counts, r))
        assert _can_split(counts, shot, query) == brute, (counts, shot, query)


def test_every_feasible_class_can_be_sampled():
    """Patients of 1 and 10 images: only some splits work; the sampler must find one every time."""
    labels = [0] * 15 + [1] * 15 + [2] * 15
    groups = [f"{c}-{k}" for c in range(3) for k in [0] * 10 + [1, 2, 3, 4, 5]]
    sampler = EpisodicSampler(labels, 3, 5, 5, episodes=200, seed=0, groups=groups, patient_disjoint=True)
    for ep in sampler:
        support = {groups[i] for i in ep.support.tolist()}
        assert support.isdisjoint(groups[i] for i in ep.query.tolist())


def test_evaluation_is_patient_disjoint_by_default_and_names_its_cam_target(phantom):
    torch.manual_seed(0)
    model = build_model({"backbone": "conv4", "in_channels": 3, "hidden": 8, "embed_dim": 8,
                         "metric": "squared_euclidean", "normalize": False})
    out = evaluate_episodic(model, phantom, shot=2, query=2, episodes=20, cam_episodes=2)
    assert out["patient_disjoint"] is True and out["alignment_target"] == DEFAULTS.cam_score
    assert out["alignment"] == out["alignment_by_score"][DEFAULTS.cam_score]
    one_patient = phantom.subset([i for i, g in enumerate(phantom.groups) if g in {"brain-0000", "brain-0001",
                                                                                     "brain-0002"}])
    with pytest.raises(ConfigError, match="patient-disjoint"):
        evaluate_episodic(model, one_patient, shot=2, query=2, episodes=5)
    assert evaluate_episodic(model, one_patient, shot=2, query=2, episodes=5, cam_episodes=0,
                             patient_disjoint=False)["accuracy"]["n"] == 5


# ------------------------------------------------------------------------------- seeds
def test_each_seed_drives_only_its_own_part(tmp_path):
    base = dict(dataset="cxr-phantom", patients=12, slices=4, size=32, hidden=8, embed_dim=8, eval_episodes=12,
                cam_episodes=1)
    small = dict(episodes=2, shot=2, query=2)
    cfg = RunConfig(**base, data_seed=3, train=TrainConfig(**small, seed=0))
    other_train = RunConfig(**base, data_seed=3, train=TrainConfig(**small, seed=1))
    other_data = RunConfig(**base, data_seed=4, train=TrainConfig(**small, seed=0))
    (a_train, a_test), (b_train, b_test) = load_split(cfg), load_split(other_train)
    assert torch.equal(a_train.images, b_train.images) and torch.equal(a_test.images, b_test.images)
    assert not torch.equal(load_split(other_data)[0].images, a_train.images)

    runs = {name: run_fewshot(c, tmp_path / name) for name, c in
            (("a", cfg), ("train", other_train), ("data", other_data))}
    assert runs["a"]["seeds"] == {"data": 3, "train": 0, "eval": DEFAULTS.eval_seed}
    model_a, payload = load_checkpoint(tmp_path / "a" / "checkpoint.pt")
    model_t, _ = load_checkpoint(tmp_path / "train" / "checkpoint.pt")
    assert {k: payload["extra"][k] for k in ("data_seed", "train_seed", "eval_seed")} == {
        "data_seed": 3, "train_seed": 0, "eval_seed": DEFAULTS.eval_seed}
    assert not torch.equal(model_a.head.weight, model_t.head.weight)
    # Same data seed and evaluation seed: both models meet exactly the same test episodes.
    sampler_args = dict(groups=a_test.groups, patient_disjoint=True, seed=DEFAULTS.eval_seed)
    ep_a = EpisodicSampler(a_test.labels, 3, 2, 2, **sampler_args).sample()
    ep_b = EpisodicSampler(b_test.labels, 3, 2, 2, **sampler_args).sample()
    assert torch.equal(ep_a.query, ep_b.query)


@pytest.mark.parametrize("text,value", [("3", 3), (" 7 ", 7), ("2.0", 2), (5, 5), ("4294967295", 2 ** 32 - 1)])
def test_parse_seed_accepts_whole_numbers(text, value):
    assert parse_seed(text) == value


@pytest.mark.parametrize("text", ["1.5", "abc", "", "-1", "nan", "inf", "4294967296", True, 2.5])
def test_parse_seed_rejects_everything_else_with_one_line(text):
    with pytest.raises(ConfigError, match=r"^the data seed must be a whole number") as err:
        parse_seed(text, "data seed")
    assert "\n" not in str(err.value)


def test_run_config_rejects_non_integer_seeds():
    with pytest.raises(ConfigError, match="evaluation seed"):
        RunConfig(eval_seed=0.5)
    with pytest.raises(ConfigError, match="training seed"):
        RunConfig(train=TrainConfig(seed="x"))


# --------------------------------------------------------------------------- defaults
def _cli(*argv: str) -> RunConfig:
    return run_config(build_parser().parse_args(["fewshot", *argv]))


def test_api_cli_and_studio_defaults_agree(workspace):
    api = RunConfig()
    assert api == RunConfig.from_preset("recommended")
    for f in fields(TrainConfig):
        name = {"seed": "train_seed", "patient_disjoint": "train_disjoint"}.get(f.name, f.name)
        if hasattr(DEFAULTS, name):
            assert getattr(api.train, f.name) == getattr(DEFAULTS, name), f.name
    signature = inspect.signature(evaluate_episodic).parameters
    assert {k: signature[k].default for k in ("way", "shot", "query", "episodes", "seed", "cam_episodes",
                                              "cam_scores", "patient_disjoint")} == {
        "way": DEFAULTS.way, "shot": DEFAULTS.shot, "query": DEFAULTS.query, "episodes": DEFAULTS.eval_episodes,
        "seed": DEFAULTS.eval_seed, "cam_episodes": DEFAULTS.cam_episodes, "cam_scores": (DEFAULTS.cam_score,),
        "patient_disjoint": DEFAULTS.eval_disjoint}
    assert _cli() == api
    # The studio's command line, parsed by the real CLI, describes the same run as the Python API.
    studio = run_config(build_parser().parse_args(commands.fewshot_argv(workspace, guidance=DEFAULTS.guidance)))
    assert studio == api
    unguided = run_config(build_parser().parse_args(commands.fewshot_argv(workspace, guidance="none")))
    assert asdict(unguided) == {**asdict(api), "train": {**asdict(api.train), "guidance": "none"}}


def test_cli_choices_copied_for_a_fast_help_match_the_library():
    import core.cli.fewshot as cli
    from core.explain import CAM_NORMALISATIONS
    from core.fewshot import BACKBONES, CUE_KINDS, DATASETS

    assert (cli._DATASETS, cli._CUE_KINDS, cli._CAM_NORMS) == (DATASETS, CUE_KINDS, CAM_NORMALISATIONS)
    assert tuple(cli._BACKBONES) == tuple(BACKBONES)


def test_paper_preset_and_explicit_options():
    paper = _cli("--preset", "paper")
    assert paper == RunConfig.from_preset("paper")
    p = PRESETS["paper"]
    assert (paper.train.cam_score, paper.train.alpha, paper.train.first_order, paper.train.lr, paper.metric,
            paper.normalize) == (p.cam_score, p.alpha, p.first_order, p.lr, p.metric, p.normalize)
    assert (p.cam_score, p.alpha, p.first_order) == ("distance", 0.1, True)  # the paper's code (PAPERS.md)
    mixed = _cli("--preset", "paper", "--alpha", "0.5", "--no-first-order", "--seed", "4", "--spurious", "stripes")
    assert (mixed.train.alpha, mixed.train.first_order, mixed.train.seed, mixed.train.cam_score) == (
        0.5, False, 4, "distance")
    assert mixed.spurious and mixed.cue_kind == "stripes"


# -------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("option,what", [("--data-seed", "data seed"), ("--train-seed", "training seed"),
                                         ("--seed", "training seed"), ("--eval-seed", "evaluation seed")])
def test_cli_non_integer_seed_is_one_line(option, what, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["fewshot", option, "1.5"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and f"the {what} must be a whole number" in err[0]


def test_cli_data_that_cannot_fill_patient_disjoint_episodes_is_one_line(workspace, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["--workspace", str(workspace.root), "fewshot", "--shot", "19", "--query", "13", "--episodes", "1",
                 "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: test data: patient-disjoint 3-way 19-shot 13-query episodes")
    assert "class 'ring-enhancing' has 8 patients with 32 images" in err[0]
    assert not out.exists()  # stopped before training: nothing written


def test_prepare_run_checks_training_episodes_only_when_asked():
    cfg = RunConfig(patients=12, slices=4, size=32, train=TrainConfig(shot=2, query=3, patient_disjoint=True))
    with pytest.raises(ConfigError, match="^training data: patient-disjoint"):
        prepare_run(RunConfig(patients=6, slices=4, size=32,
                              train=TrainConfig(shot=2, query=2, patient_disjoint=True)))
    train, test = prepare_run(cfg)
    assert train.patients().isdisjoint(test.patients())
