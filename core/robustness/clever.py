"""CLEVER (Weng et al., ICLR 2018): an attack-free estimate of the minimal adversarial distortion.

For the predicted class ``c`` and a target ``j`` the margin ``g = f_c − f_j`` must be
driven to zero by an attack.  If ``L`` bounds the dual norm ``‖∇g‖_q`` in the
L_p ball of radius ``R`` around ``x0`` then no perturbation smaller than
``g(x0) / L`` can flip the decision, so CLEVER reports ``min(g(x0) / L, R)``.
``L`` is estimated by extreme-value theory: the maxima of ``‖∇g‖_q`` over
``nb_batch`` batches of ``batch_size`` fresh points, uniform in the ball, follow
a reverse Weibull whose location parameter is the supremum.

Choices, stated once:

* **Fresh samples for every batch** (the paper and its reference code); ART's
  ``clever_u`` instead resamples batches with replacement from one pool.
* **BatchNorm folded** into the convolutions for the sampled gradients
  (:func:`core.attacks.fold_batchnorm`; the same function in eval mode).
* **All targets from one set of samples**: one forward pass and one backward
  per target class on the same points, instead of two ``class_gradient``
  calls per target per mini-batch.  Targets therefore share samples (as in
  the paper's reference code for the untargeted score).
* **Clipping**: sampled points are clipped to the valid pixel range ``[0, 1]``
  by default, as in ART and the reference implementation, so gradients are
  only taken at images the model can actually receive.  ``clip=False``
  samples the whole ball (used for the exact check on linear models).
* **Fit**: ``scipy.stats.weibull_max`` is fitted with several initial shapes;
  the fit with the best Kolmogorov–Smirnov p-value wins.  The largest sampled
  gradient norm is used instead of the fitted location when the maxima are
  all equal (a constant gradient, e.g. a linear model: the maximum is then
  exact), when the best p-value is below ``min_pvalue``, or when the location
  lies below the largest observed maximum (the fitted support would exclude
  data, and L must be at least what was observed).  Fits whose shape exceeds
  :data:`MAX_SHAPE` are discarded before the K-S comparison (no finite
  endpoint, see there); with ten maxima the K-S test cannot tell them apart
  from sensible fits, and they produced locations 10⁵× the observed maxima.
  The fits of all targets and initial shapes run together in a vectorised
  Nelder–Mead (:mod:`core.robustness.weibull`) that follows
  ``weibull_max.fit``'s algorithm step by step, so the results are scipy's
  (a run ending at an invalid shape or scale, where scipy raises ``FitError``,
  simply counts as not converged).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from core.attacks.base import frozen_eval
from core.attacks.fusion import fold_batchnorm
from core.errors import ConfigError
from core.progress import ProgressCallback, ProgressEvent
from core.robustness.sampling import DUAL_NORM, parse_norm, sample_ball
from core.robustness.weibull import fit_weibull_max, ks_pvalues

__all__ = ["WeibullFit", "CleverTarget", "CleverResult", "clever", "clever_batch",
           "fit_reverse_weibull", "fit_reverse_weibull_batch", "DEFAULT_SHAPE_INITS", "MAX_SHAPE"]

#: Initial Weibull shapes tried by the fit (those of the reference implementation).
DEFAULT_SHAPE_INITS: tuple[float, ...] = (0.1, 1.0, 5.0, 10.0, 20.0, 50.0, 100.0)
#: Fits with a larger shape are rejected: as the shape grows the reverse Weibull
#: tends to a Gumbel law, whose support has no finite end, so its "location"
#: runs off to arbitrary values and says nothing about the maximum gradient.
MAX_SHAPE = 1000.0


@dataclass(frozen=True)
class WeibullFit:
    """The reverse-Weibull fit of the batch maxima and the Lipschitz estimate taken from it.

    ``lipschitz`` is ``location`` unless ``fallback`` is set, in which case it is
    the largest batch maximum and ``reason`` says why.
    """

    lipschitz: float
    location: float
    shape: float
    scale: float
    ks_pvalue: float
    fallback: bool
    reason: str = ""


@dataclass(frozen=True)
class CleverTarget:
    """CLEVER for one target class ``j``: ``min(margin / lipschitz, radius)``."""

    target: int
    margin: float
    score: float
    fit: WeibullFit
    batch_maxima: tuple[float, ...]


@dataclass(frozen=True)
class CleverResult:
    """CLEVER score of one image; the fit fields belong to the minimising target."""

    score: float
    norm: str
    radius: float
    predicted_class: int
    targeted: bool
    target_scores: dict[int, float]
    target: int
    location: float
    shape: float
    scale: float
    ks_pvalue: float
    fallback: bool
    batch_maxima: tuple[float, ...]
    per_target: tuple[CleverTarget, ...] = field(repr=False)

    def to_dict(self) -> dict:
        """JSON-ready dictionary (NaN p-values become ``None``)."""
        def clean(value):
            if isinstance(value, float) and not math.isfinite(value):
                return None
            if isinstance(value, dict):
                return {str(k): clean(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [clean(v) for v in value]
            return value
        return clean(asdict(self))


def fit_reverse_weibull(maxima: Sequence[float], *, shape_inits: Sequence[float] = DEFAULT_SHAPE_INITS,
                        min_pvalue: float = 0.05, max_shape: float = MAX_SHAPE) -> WeibullFit:
    """Fit ``weibull_max`` to batch maxima ``(nb_batch,)``; see the module notes for the fallback."""
    return fit_reverse_weibull_batch(np.asarray(maxima, dtype=np.float64)[None], shape_inits=shape_inits,
                                     min_pvalue=min_pvalue, max_shape=max_shape)[0]


def fit_reverse_weibull_batch(maxima: np.ndarray, *, shape_inits: Sequence[float] = DEFAULT_SHAPE_INITS,
                              min_pvalue: float = 0.05, max_shape: float = MAX_SHAPE) -> list[WeibullFit]:
    """:func:`fit_reverse_weibull` for each row of ``maxima (T, nb_batch)``, all fits at once.

    Each row is fitted as ``scipy.stats.weibull_max.fit(z, c0)`` for every ``c0`` in
    ``shape_inits`` and scored with ``scipy.stats.kstest``, but the ``T × len(shape_inits)``
    Nelder–Mead runs and K-S tests go through :mod:`core.robustness.weibull` in
    lock-step with numpy (same algorithm and starting points, ~10× faster than
    one scipy call per fit).
    """
    rows = np.atleast_2d(np.asarray(maxima, dtype=np.float64))
    inits = np.asarray(tuple(shape_inits), dtype=np.float64)
    nan = float("nan")
    fits: list[WeibullFit | None] = [None] * rows.shape[0]
    tops: dict[int, float] = {}
    spreads: dict[int, float] = {}
    fitted: list[int] = []  # rows that need a fit (not constant)
    for t, sample in enumerate(rows):
        top = float(sample.max())
        spread = float(sample.max() - sample.min())
        if sample.size < 3 or spread <= 1e-9 * max(abs(top), 1e-30):
            fits[t] = WeibullFit(top, top, nan, nan, nan, True, "constant or too few maxima")
        else:
            tops[t], spreads[t] = top, spread
            fitted.append(t)
    if fitted and inits.size:
        # Shift by the largest maximum and divide by the range so the optimiser works on
        # numbers of order one whatever the model's gradient scale (reference-code trick).
        z = np.stack([(rows[t] - tops[t]) / spreads[t] for t in fitted])  # (F, n)
        data = np.repeat(z, inits.size, axis=0)  # (F * S, n): problem f * S + s
        params = fit_weibull_max(data, np.tile(inits, len(fitted)))  # (F * S, 3)
        shape, loc_z, scale_z = params.T
        usable = np.isfinite(params).all(axis=1) & (scale_z > 0) & (shape > 0) & (shape <= max_shape)
        pvalues = np.full(data.shape[0], nan)
        if usable.any():
            pvalues[usable] = ks_pvalues(data[usable], params[usable])
        for f, t in enumerate(fitted):
            top, spread = tops[t], spreads[t]
            best: tuple[float, float, float, float] | None = None
            # First-best in the order of ``shape_inits`` with the reference's strict ``>``
            # (a NaN p-value, if first, is kept: same choice as the per-fit loop).
            for k in range(f * inits.size, (f + 1) * inits.size):
                if usable[k] and (best is None or pvalues[k] > best[3]):
                    best = (float(shape[k]), top + float(loc_z[k]) * spread, float(scale_z[k]) * spread,
                            float(pvalues[k]))
            fits[t] = _decide(best, top, min_pvalue)
    for t in fitted:
        if fits[t] is None:  # empty ``shape_inits``: nothing was fitted
            fits[t] = _decide(None, tops[t], min_pvalue)
    return [fit for fit in fits if fit is not None]


def _decide(best: tuple[float, float, float, float] | None, top: float, min_pvalue: float) -> WeibullFit:
    """The fallback rules of the module notes for the best fit ``(shape, loc, scale, p)`` of one target."""
    nan = float("nan")
    if best is None:
        return WeibullFit(top, nan, nan, nan, nan, True, "no Weibull fit converged")
    shape, loc, scale, pvalue = best
    if not pvalue >= min_pvalue:
        return WeibullFit(top, loc, shape, scale, pvalue, True, f"K-S p-value {pvalue:.3g} < {min_pvalue}")
    # Relative slack: the MLE often lands on the largest sample up to rounding.
    if loc < top * (1 - 1e-7):
        return WeibullFit(top, loc, shape, scale, pvalue, True, "location below the largest maximum")
    return WeibullFit(max(loc, top), loc, shape, scale, pvalue, False)


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _dual_gradient_norms(model: nn.Module, points: Tensor, c: int, targets: Sequence[int], q: str) -> Tensor:
    """``(T, S)``: ``‖∇(f_c − f_j)‖_q`` at each of ``points (S, C, H, W)`` for each target j.

    One forward pass; one backward pass per target through the same graph.
    """
    x = points.detach().requires_grad_(True)
    logits = model(x)
    rows = []
    for i, j in enumerate(targets):
        margin = (logits[:, c] - logits[:, j]).sum()
        (grad,) = torch.autograd.grad(margin, x, retain_graph=i < len(targets) - 1)
        flat = grad.flatten(1)
        if q == "1":
            rows.append(flat.abs().sum(dim=1))
        elif q == "2":
            rows.append(flat.norm(dim=1))
        else:
            rows.append(flat.abs().amax(dim=1))
    return torch.stack(rows)


def clever(model: nn.Module, image: Tensor, *, norm: str | int | float = 2, nb_batch: int = 50,
           batch_size: int = 100, radius: float = 2.0, target_class: int | None = None,
           clip: bool = True, chunk_size: int = 64, shape_inits: Sequence[float] = DEFAULT_SHAPE_INITS,
           min_pvalue: float = 0.05, seed: int | None = 0) -> CleverResult:
    """CLEVER score of one image.

    Args:
        model: ``(N, C, H, W)`` pixels in ``[0, 1]`` -> logits ``(N, K)``; evaluated in
            eval mode with frozen parameters (both restored afterwards).
        image: ``(C, H, W)`` or ``(1, C, H, W)`` in ``[0, 1]``.
        norm: the attack's norm p (1, 2 or inf); gradients are measured in the dual norm.
        nb_batch, batch_size: number of batch maxima and points per batch.
        radius: R, in pixel units of the chosen norm; also the cap on the score.
        target_class: targeted CLEVER towards this class; ``None`` = untargeted
            (minimum over every class other than the prediction).
        clip: clip sampled points to ``[0, 1]`` (see the module notes).
        chunk_size: points per forward pass (64 keeps small CNNs in cache on CPU).
        seed: seeds the sampler (``None`` = torch's global generator).
    """
    p = parse_norm(norm)
    q = DUAL_NORM[p]
    if int(nb_batch) < 1 or int(batch_size) < 1:
        raise ConfigError(f"nb_batch and batch_size must be >= 1, got {nb_batch} and {batch_size}")
    if not (isinstance(radius, (int, float)) and math.isfinite(radius) and radius > 0):
        raise ConfigError(f"radius must be a finite number > 0, got {radius}")
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 3:
        raise ConfigError(f"image must be (C, H, W), got {tuple(image.shape)}")
    if image.min() < -1e-5 or image.max() > 1 + 1e-5:
        raise ConfigError("image must lie in [0, 1] (pixel units)")
    device = _model_device(model)
    x0 = image.detach().to(device=device, dtype=torch.float32)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    n_total = int(nb_batch) * int(batch_size)
    dim = x0.numel()

    with frozen_eval(model):
        net = fold_batchnorm(model)
        with torch.no_grad():
            logits0 = model(x0[None]).double()[0]
        n_classes = logits0.numel()
        c = int(logits0.argmax())
        if target_class is None:
            targets = [j for j in range(n_classes) if j != c]
        else:
            if not 0 <= int(target_class) < n_classes:
                raise ConfigError(f"target class must be in [0, {n_classes - 1}], got {target_class}")
            if int(target_class) == c:
                raise ConfigError(f"target class {target_class} is already the predicted class")
            targets = [int(target_class)]
        norms = torch.empty(len(targets), n_total, dtype=torch.float64)
        for start in range(0, n_total, chunk_size):
            n = min(chunk_size, n_total - start)
            delta = sample_ball(n, dim, float(radius), p, generator=generator).to(device)
            points = x0[None] + delta.view(n, *x0.shape)
            if clip:
                points = points.clamp(0.0, 1.0)
            norms[:, start:start + n] = _dual_gradient_norms(net, points, c, targets, q).double().cpu()

    maxima = norms.view(len(targets), int(nb_batch), int(batch_size)).amax(dim=2).numpy()
    per_target = []
    # All targets' fits in one vectorised batch (9 targets x 7 initial shapes for 10 classes).
    fits = fit_reverse_weibull_batch(maxima, shape_inits=shape_inits, min_pvalue=min_pvalue)
    for i, j in enumerate(targets):
        fit = fits[i]
        margin = float(logits0[c] - logits0[j])
        score = float(radius) if fit.lipschitz <= 0 else min(margin / fit.lipschitz, float(radius))
        per_target.append(CleverTarget(j, margin, score, fit, tuple(float(m) for m in maxima[i])))
    worst = min(per_target, key=lambda t: t.score)
    return CleverResult(
        score=worst.score, norm=p, radius=float(radius), predicted_class=c,
        targeted=target_class is not None,
        target_scores={t.target: t.score for t in per_target}, target=worst.target,
        location=worst.fit.location, shape=worst.fit.shape, scale=worst.fit.scale,
        ks_pvalue=worst.fit.ks_pvalue, fallback=worst.fit.fallback,
        batch_maxima=worst.batch_maxima, per_target=tuple(per_target))


def clever_batch(model: nn.Module, images: Tensor, *, progress: ProgressCallback | None = None,
                 seed: int | None = 0, **kwargs) -> list[CleverResult]:
    """:func:`clever` for each of ``images (N, C, H, W)``; image ``i`` is seeded with ``seed + i``."""
    if images.ndim != 4:
        raise ConfigError(f"images must be (N, C, H, W), got {tuple(images.shape)}")
    results = []
    for i in range(images.shape[0]):
        results.append(clever(model, images[i], seed=None if seed is None else seed + i, **kwargs))
        if progress is not None:
            progress(ProgressEvent("clever", i + 1, images.shape[0],
                                   metrics={"score": results[-1].score}))
    return results
