"""Minimal-norm projections onto a hyperplane inside the pixel box, the core of FAB.

For each row: the smallest ``δ`` (in L∞ or L2) with ``w·(t + δ) = b`` and
``t + δ ∈ [0, 1]^d``, or, when the box cannot reach the hyperplane, the step
that gets closest.  Ported from Croce & Hein's reference implementation
(``fra31/auto-attack``, ``fab_projections.py``), vectorised over rows: both
solve a piecewise-linear problem by sorting the coordinates by how soon they
hit the box and bisecting for the breakpoint.  Coordinates with ``w = 0`` never move.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["project_linf", "project_l2"]


def _bisect(lower: Tensor, upper: Tensor, go_up, steps: int) -> Tensor:
    """Integer bisection on ``[lower, upper]`` per row: keeps ``lower`` where ``go_up(mid)`` holds."""
    for _ in range(steps):
        mid = torch.floor((lower + upper) / 2)
        up = go_up(mid.long().unsqueeze(1))
        lower, upper = torch.where(up, mid, lower), torch.where(up, upper, mid)
    return lower.long()


def project_linf(points: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """``δ (N, d)`` of least L∞ norm moving ``points (N, d)`` onto ``w·z = b`` (``w (N, d)``, ``b (N,)``) in the box."""
    t, w, b = points, w.clone(), b.clone()
    sign = 2 * ((w * t).sum(1) - b >= 0) - 1
    w.mul_(sign.unsqueeze(1))
    b.mul_(sign)
    a = (w < 0).float()
    d = (a - t) * (w != 0).float()
    p = a - t * (2 * a - 1)
    indp = torch.argsort(p, dim=1)
    b = b - (w * t).sum(1)
    b0 = (w * d).sum(1)
    indp2 = indp.flip((1,))
    ws = w.gather(1, indp2)
    bs2 = -ws * d.gather(1, indp2)
    s = torch.cumsum(ws.abs(), dim=1)
    sb = torch.cumsum(bs2, dim=1) + b0.unsqueeze(1)
    b2 = sb[:, -1] - s[:, -1] * p.gather(1, indp[:, 0:1]).squeeze(1)
    c_l = b - b2 > 0
    c2 = (b - b0 > 0) & ~c_l
    lb = torch.zeros(int(c2.sum()), device=t.device)
    ub = torch.full_like(lb, w.shape[1] - 1)
    indp_, sb_, s_, p_, b_ = indp[c2], sb[c2], s[c2], p[c2], b[c2]

    def go_up(k: Tensor) -> Tensor:
        current = indp_.gather(1, indp_.size(1) - 1 - k)
        return (b_ - (sb_.gather(1, k) - s_.gather(1, k) * p_.gather(1, current)).squeeze(1)) > 0

    lb = _bisect(lb, ub, go_up, math.ceil(math.log2(w.shape[1])))
    if c_l.any():
        lmbd = torch.clamp_min((b[c_l] - sb[c_l, -1]) / (-s[c_l, -1]), min=0).unsqueeze(-1)
        d[c_l] = (2 * a[c_l] - 1) * lmbd
    lmbd = torch.clamp_min((b[c2] - sb[c2, lb]) / (-s[c2, lb]), min=0).unsqueeze(-1)
    d[c2] = torch.min(lmbd, d[c2]) * a[c2] + torch.max(-lmbd, d[c2]) * (1 - a[c2])
    return d * (w != 0).float()


def project_l2(points: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """``δ (N, d)`` of least L2 norm moving ``points (N, d)`` onto ``w·z = b`` in the box."""
    t, w = points, w.clone()
    c = (w * t).sum(1) - b
    sign = 2 * (c >= 0) - 1
    w.mul_(sign.unsqueeze(1))
    c = c * sign
    r = torch.max(t / w, (t - 1) / w).clamp(min=-1e12, max=1e12)
    r.masked_fill_(w.abs() < 1e-8, 1e12)
    r[r == -1e12] *= -1
    rs, indr = torch.sort(r, dim=1)
    rs2 = F.pad(rs[:, 1:], (0, 1))
    rs.masked_fill_(rs == 1e12, 0)
    rs2.masked_fill_(rs2 == 1e12, 0)
    w3s = (w ** 2).gather(1, indr)
    w5 = w3s.sum(dim=1, keepdim=True)
    ws = w5 - torch.cumsum(w3s, dim=1)
    d = -(r * w) * (w.abs() > 1e-8).float()
    s = torch.cat((-w5 * rs[:, 0:1], torch.cumsum((-rs2 + rs) * ws, dim=1) - w5 * rs[:, 0:1]), 1)
    c4 = s[:, 0] + c < 0
    c3 = (d * w).sum(dim=1) + c > 0
    c2 = ~(c4 | c3)
    lb = torch.zeros(int(c2.sum()), device=t.device)
    ub = torch.full_like(lb, w.shape[1] - 1)
    s_, c_ = s[c2], c[c2]
    lb = _bisect(lb, ub, lambda k: s_.gather(1, k).squeeze(1) + c_ > 0, math.ceil(math.log2(w.shape[1])))
    if c4.any():
        alpha = c[c4] / w5[c4].squeeze(-1)
        d[c4] = -alpha.unsqueeze(-1) * w[c4]
    if c2.any():
        alpha = (s[c2, lb] + c[c2]) / ws[c2, lb] + rs[c2, lb]
        alpha[ws[c2, lb] == 0] = 0
        c5 = (alpha.unsqueeze(-1) > r[c2]).float()
        d[c2] = d[c2] * c5 - alpha.unsqueeze(-1) * w[c2] * (1 - c5)
    return d * (w.abs() > 1e-8).float()
