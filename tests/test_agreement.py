"""Reader agreement: Dice/IoU/HD95 against SimpleITK and brute force, κ against sklearn and Fleiss'
published example, STAPLE against an independent EM and a hand-derived fixed point, ROI sources,
and the Agreement page's report over a small store."""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk
from scipy.spatial.distance import cdist
from sklearn.metrics import cohen_kappa_score

from core.agreement import (RoiSource, agreement_report, cohen_kappa, dice, fleiss_kappa, hausdorff, iou,
                            label_agreement, majority_mask, pair_metrics, reader_pairs, source_mask, staple,
                            surface, union_mask)
from core.errors import ConfigError
from core.store import AnnotationStore


def disc(shape, cy, cx, r):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 < r * r


def blob(rng, shape=(48, 56)):
    """A random lumpy region: a union of three discs."""
    m = np.zeros(shape, bool)
    for _ in range(3):
        m |= disc(shape, rng.integers(12, shape[0] - 12), rng.integers(12, shape[1] - 12), rng.integers(4, 11))
    return m


def brute_hd(a, b, spacing=(1.0, 1.0), q=95.0):
    pa = np.argwhere(surface(a)) * np.asarray(spacing)
    pb = np.argwhere(surface(b)) * np.asarray(spacing)
    d = cdist(pa, pb)
    return max(np.percentile(d.min(1), q), np.percentile(d.min(0), q))


@pytest.mark.parametrize("seed", range(6))
def test_overlap_matches_simpleitk_and_hausdorff_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    a, b = blob(rng), blob(rng)
    overlap = sitk.LabelOverlapMeasuresImageFilter()
    overlap.Execute(sitk.GetImageFromArray(a.astype(np.uint8)), sitk.GetImageFromArray(b.astype(np.uint8)))
    assert dice(a, b) == pytest.approx(overlap.GetDiceCoefficient(), abs=1e-12)
    assert iou(a, b) == pytest.approx(overlap.GetJaccardCoefficient(), abs=1e-12)
    for spacing in [(1.0, 1.0), (0.7, 0.7), (0.5, 2.0)]:
        assert hausdorff(a, b, spacing) == pytest.approx(brute_hd(a, b, spacing), rel=1e-5)
        assert hausdorff(a, b, spacing, 100) == pytest.approx(brute_hd(a, b, spacing, 100), rel=1e-5)
    # SimpleITK's Hausdorff filter on the two surfaces is the classical (100th percentile) distance
    hd = sitk.HausdorffDistanceImageFilter()
    img_a, img_b = (sitk.GetImageFromArray(surface(m).astype(np.uint8)) for m in (a, b))
    for img in (img_a, img_b):
        img.SetSpacing((2.0, 0.5))  # SimpleITK spacing is (x=col, y=row)
    hd.Execute(img_a, img_b)
    assert hausdorff(a, b, (0.5, 2.0), 100) == pytest.approx(hd.GetHausdorffDistance(), rel=1e-6)
    m = pair_metrics(a, b, spacing=(0.5, 2.0))
    assert (m.dice, m.iou) == (pytest.approx(dice(a, b)), pytest.approx(iou(a, b)))
    assert m.hd95_px == pytest.approx(hausdorff(a, b)) and m.hd95_mm == pytest.approx(hausdorff(a, b, (0.5, 2.0)))


def test_analytic_cases():
    square = np.zeros((40, 40), bool)
    square[10:30, 10:30] = True
    shifted = np.roll(square, 3, axis=1)
    m = pair_metrics(square, shifted, spacing=(0.8, 0.8))
    assert m.dice == pytest.approx(2 * 20 * 17 / 800) and m.iou == pytest.approx(17 * 20 / (23 * 20))
    assert hausdorff(square, shifted, percentile=100) == pytest.approx(3.0)
    assert m.hd95_mm == pytest.approx(m.hd95_px * 0.8)
    same = pair_metrics(square, square)
    assert (same.dice, same.iou, same.hd95_px) == (1.0, 1.0, 0.0)
    empty = np.zeros_like(square)
    one_empty = pair_metrics(square, empty)
    assert (one_empty.dice, one_empty.iou, one_empty.hd95_px) == (0.0, 0.0, None)
    assert math.isnan(pair_metrics(empty, empty).dice)
    # the shared crop gives the numbers of the full image
    pairs = reader_pairs({"x": square, "y": shifted, "z": disc((40, 40), 20, 20, 8)}, spacing=(1.0, 1.0))
    assert pairs[("x", "y")].hd95_px == pytest.approx(hausdorff(square, shifted))
    assert pairs[("x", "z")].dice == pytest.approx(dice(square, disc((40, 40), 20, 20, 8)))


def test_kappas_match_sklearn_and_fleiss_published_example():
    rng = np.random.default_rng(0)
    a = list(rng.choice(["nodule", "mass", "opacity"], 50))
    b = [x if rng.random() < 0.7 else str(rng.choice(["nodule", "mass", "opacity"])) for x in a]
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    assert cohen_kappa(["x", "x"], ["x", "x"]) is None and cohen_kappa([], []) is None
    # Fleiss (1971) as worked in the literature: 10 subjects, 14 raters, 5 categories -> kappa 0.210
    table = np.array([[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
                      [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]])
    assert fleiss_kappa(table) == pytest.approx(0.2099, abs=5e-4)
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa(np.array([[1, 1], [2, 1]]))
    triples = [(i, r, lab) for i in range(30) for r, lab in
               (("R1", a[i]), ("R2", b[i]), ("R3", a[i] if i % 3 else "mass"))]
    triples.append((99, "R1", "nodule"))  # an image only R1 labelled: in no kappa
    result = label_agreement(triples)
    assert result.pairwise[("R1", "R2")] == (pytest.approx(cohen_kappa_score(a[:30], b[:30])), 30)
    assert result.fleiss_images == 30 and result.headline[0] == "Fleiss' κ"
    counts = [[[a[i], b[i], a[i] if i % 3 else "mass"].count(c) for c in ("mass", "nodule", "opacity")]
              for i in range(30)]
    assert result.fleiss == pytest.approx(fleiss_kappa(np.array(counts)))


def _reference_staple(masks, iterations=500):
    """STAPLE EM written from Warfield et al. 2004 (fixed prior = mean decision, p = q = 0.99999 at start)."""
    d = np.stack([m.ravel() for m in masks], 1).astype(float)
    g = d.mean()
    p = np.full(d.shape[1], 0.99999)
    q = np.full(d.shape[1], 0.99999)
    for _ in range(iterations):
        a = g * np.prod(np.where(d == 1, p, 1 - p), 1)
        b = (1 - g) * np.prod(np.where(d == 0, q, 1 - q), 1)
        w = a / (a + b)
        p, q = (w @ d) / w.sum(), ((1 - w) @ (1 - d)) / (1 - w).sum()
    a = g * np.prod(np.where(d == 1, p, 1 - p), 1)
    b = (1 - g) * np.prod(np.where(d == 0, q, 1 - q), 1)
    return (a / (a + b)).reshape(masks[0].shape), p, q


def test_staple_matches_an_independent_em_and_a_hand_derived_fixed_point():
    rng = np.random.default_rng(3)
    truth = np.zeros((40, 40), bool)
    truth[10:28, 8:30] = True
    readers = {}
    for name, fn, fp in (("R1", 0.1, 0.02), ("R2", 0.3, 0.01), ("R3", 0.05, 0.1)):
        m = truth.copy()
        m[truth & (rng.random(truth.shape) < fn)] = False
        m[~truth & (rng.random(truth.shape) < fp)] = True
        readers[name] = m
    result = staple(readers, max_iterations=500)
    prob, p, q = _reference_staple([readers[n] for n in sorted(readers)])
    assert np.abs(result.probability - prob).max() < 1e-4
    assert [result.sensitivity[n] for n in sorted(readers)] == pytest.approx(list(p), abs=1e-4)
    assert [result.specificity[n] for n in sorted(readers)] == pytest.approx(list(q), abs=1e-4)
    assert dice(result.mask, truth) > max(dice(m, truth) for m in readers.values()) - 0.02
    # By hand: readers A and B agree exactly, C marks nothing.  W = A is a fixed point of the EM:
    # for a pixel A and B mark, a = g·1·1·(1 − 0) = g and b = (1 − g)·0·0·1 = 0, so W = 1; for a pixel
    # nobody marks, a = g·0·0·1 = 0, so W = 0.  Then p = (1, 1, 0) and q = (1, 1, 1).
    a_mask = disc((30, 30), 14, 15, 7)
    hand = staple({"A": a_mask, "B": a_mask, "C": np.zeros_like(a_mask)})
    assert np.array_equal(hand.mask, a_mask)
    assert hand.sensitivity == pytest.approx({"A": 1.0, "B": 1.0, "C": 0.0}, abs=1e-4)
    assert hand.specificity == pytest.approx({"A": 1.0, "B": 1.0, "C": 1.0}, abs=1e-4)
    assert np.array_equal(staple({"solo": a_mask}).mask, a_mask)


def test_union_majority_and_roi_sources():
    a, b, c = disc((30, 30), 10, 10, 6), disc((30, 30), 12, 12, 6), disc((30, 30), 20, 20, 5)
    assert np.array_equal(majority_mask([a, b]), a & b) and np.array_equal(union_mask([a, b, c]), a | b | c)
    assert np.array_equal(majority_mask([a, b, c]), (a & b) | (a & c) | (b & c))
    masks = {"R1": a, "R2": b, "Adj": c}
    assert np.array_equal(source_mask(masks, "union", (30, 30)), a | b | c)
    assert np.array_equal(source_mask(masks, "reader:R2", (30, 30)), b)
    assert not source_mask(masks, "reader:nobody", (30, 30)).any()
    assert np.array_equal(source_mask(masks, "consensus", (30, 30), {"Adj": "adjudicator"}), c)
    assert np.array_equal(source_mask(masks, "consensus", (30, 30)), source_mask(masks, "staple", (30, 30)))
    assert np.array_equal(source_mask({"R1": a}, "majority", (30, 30)), a)  # one reader: their ROI
    assert str(RoiSource.parse(" reader:Dr A ")) == "reader:Dr A"
    for bad, match in (("best", "unknown ROI source"), ("reader:", "non-empty"), ("reader:a\tb", "control")):
        with pytest.raises(ConfigError, match=match):
            RoiSource.parse(bad)


@pytest.fixture
def study(workspace):
    """Four images: three read by R1/R2/R3 with known masks, one read by R1 only."""
    store = AnnotationStore(workspace)
    shape = (40, 40)
    ids = [store.add_image(f"{k:064x}", f"/x/{k}.dcm", shape=shape, spacing=(0.5, 0.5)) for k in (1, 2, 3, 4)]
    truth = disc(shape, 20, 20, 8)
    plan = {ids[0]: {"R1": truth, "R2": truth, "R3": truth},                      # perfect agreement
            ids[1]: {"R1": truth, "R2": np.roll(truth, 2, 1), "R3": disc(shape, 20, 20, 6)},
            ids[2]: {"R1": truth, "R2": disc(shape, 8, 8, 5)},                   # R3 labelled but drew nothing
            ids[3]: {"R1": truth}}
    for image, masks in plan.items():
        for reader, mask in masks.items():
            store.add_roi(image, "lesion", mask, annotator=reader)
    for image, labels in {ids[0]: ("nodule", "nodule", "nodule"), ids[1]: ("nodule", "mass", "nodule"),
                          ids[2]: ("mass", "mass", "nodule")}.items():
        for reader, label in zip(("R1", "R2", "R3"), labels):
            store.set_image_label(image, label, reader)
    store.register_reader("R3", "adjudicator")
    yield store, ids, plan
    store.close()


def test_agreement_report_over_a_small_study(study):
    store, ids, plan = study
    report = agreement_report(store)
    assert [im.image_id for im in report.images] == ids[:3]  # the single-reader image is left out
    assert len(report.pairs) == 9
    for pair in report.pairs:
        masks = plan[pair.image_id]
        a = masks.get(pair.reader_a, np.zeros((40, 40), bool))
        b = masks.get(pair.reader_b, np.zeros((40, 40), bool))
        expected = pair_metrics(a, b, spacing=(0.5, 0.5))
        assert (pair.dice, pair.iou) == (pytest.approx(expected.dice), pytest.approx(expected.iou))
        assert pair.hd95_mm == (None if expected.hd95_mm is None else pytest.approx(expected.hd95_mm))
    first = report.images[0]
    assert (first.min_dice, first.mean_dice, first.max_hd95_px, first.class_labels_agree) == (1.0, 1.0, 0.0, True)
    assert [im.image_id for im in report.worst(2)] == [ids[2], ids[1]]  # R3 drew nothing on image 3: Dice 0
    m = report.dice_matrix
    assert np.allclose(m, m.T) and np.all(np.diag(m) == 1.0) and report.reader_names == ["R1", "R2", "R3"]
    r1 = next(r for r in report.readers if r.reader == "R1")
    mine = [p.dice for p in report.pairs if "R1" in (p.reader_a, p.reader_b)]
    assert r1.pairs == 6 and r1.mean_dice == pytest.approx(np.mean(mine)) and r1.rois == 4
    assert next(r for r in report.readers if r.reader == "R3").role == "adjudicator"
    assert report.labels.fleiss_images == 3 and report.labels.fleiss is not None
    # the same report restricted to one image and one label
    one = agreement_report(store, image_ids=[ids[1]], label="lesion")
    assert [im.image_id for im in one.images] == [ids[1]] and len(one.pairs) == 3
