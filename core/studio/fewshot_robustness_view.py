"""Few-shot robustness reports for the Robustness page: which runs, their reports, curves and a summary table.

A report is the JSON of ``python -m core fewshot-robustness`` (see
:func:`core.fewshot.robustness.perturbation_report`).  The studio's jobs write
it to ``<robustness_dir>/fewshot-robustness[-<roi mode>].json`` of the run
(:func:`core.studio.commands.fewshot_robustness_argv`); a report the command
line wrote into the run folder (``<run>/robustness.json``) is shown too.
Curves of several runs share axes, labelled by backbone and guidance, so
guided vs unguided and plain vs symmetry-aware backbones are compared directly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from core.errors import LoadError
from core.workspace import Workspace

__all__ = ["fewshot_runs", "report_files", "load_report", "fewshot_reports", "curve_series", "summary_rows",
           "FIGURES", "ROI_MODE_CHOICES", "report_label"]

#: The page's figures: (kind, metric, title, x axis title, x scale, y axis title).
_ACC, _DICE = "episodic accuracy (%)", "CAM–ROI soft Dice (×100)"
FIGURES: tuple[tuple[str, str, str, str, float, str], ...] = (
    ("attack", "accuracy", "Few-shot: worst-case episodic accuracy vs ε", "ε (/255)", 255.0, _ACC),
    ("attack", "dice", "Few-shot: CAM–ROI Dice under the worst-case attack vs ε", "ε (/255)", 255.0, _DICE),
    ("rotation", "accuracy", "Few-shot: episodic accuracy vs rotation", "angle (°)", 1.0, _ACC),
    ("rotation", "dice", "Few-shot: CAM–ROI Dice vs rotation (ROI rotated too)", "angle (°)", 1.0, _DICE),
    ("scale", "accuracy", "Few-shot: episodic accuracy vs scale", "scale factor", 1.0, _ACC),
    ("scale", "dice", "Few-shot: CAM–ROI Dice vs scale (ROI rescaled too)", "scale factor", 1.0, _DICE),
)
#: The page's attack-region choices and the ``--roi-mode`` each means.
ROI_MODE_CHOICES: dict[str, str | None] = {"whole image": None, "outside the ROI only": "outside",
                                           "inside the ROI only": "inside"}


def fewshot_runs(workspace: Workspace) -> list:
    """Registry entries (:class:`core.studio.registry.ModelEntry`) of readable few-shot *run folders*
    (a checkpoint with its ``metrics.json``), newest first."""
    from core.studio.registry import list_models

    return [m for m in list_models(workspace)
            if m.kind == "fewshot" and m.error is None and (Path(m.path).parent / "metrics.json").is_file()]


def report_files(workspace: Workspace, entry) -> list[Path]:
    """The report files of one run that exist: the studio's (per ROI mode), then the command line's default."""
    from core.studio.commands import fewshot_robustness_path

    found = [fewshot_robustness_path(workspace, entry.name, mode) for mode in (None, "outside", "inside")]
    found.append(Path(entry.path).parent / "robustness.json")
    return [p for p in found if p.is_file()]


def load_report(path: Path) -> dict:
    """A report file's content, or :class:`LoadError` with one line saying why it cannot be shown."""
    from core.fewshot.robustness import FORMAT, KINDS, METRICS

    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        raise LoadError(f"{Path(path).name} is not a readable JSON report; run the evaluation again") from None
    ok = isinstance(doc, dict) and doc.get("format") == FORMAT and isinstance(doc.get("curves"), dict) and all(
        isinstance(doc["curves"].get(k), dict) and all(len(doc["curves"][k].get(m, ())) == len(
            doc["curves"][k].get("x", ())) for m in METRICS) for k in KINDS)
    if not ok:
        raise LoadError(f"{Path(path).name} is not a few-shot robustness report (or a damaged one); "
                        "run the evaluation again")
    return doc


def report_label(entry_name: str, doc: Mapping[str, Any]) -> str:
    """``"<run> · <backbone> · <guided|unguided> [· attack outside ROI] [· quick]"``."""
    run = doc.get("run", {})
    guidance = run.get("guidance")
    parts = [entry_name, str(run.get("backbone", "?")),
             "unguided" if guidance == "none" else f"guided ({guidance})" if guidance else "?"]
    mode = doc.get("settings", {}).get("roi_mode")
    if mode:
        parts.append(f"attack {mode} ROI")
    if doc.get("quick"):
        parts.append("quick")
    return " · ".join(parts)


def fewshot_reports(workspace: Workspace, entries: Sequence) -> tuple[dict[str, dict], list[str]]:
    """``({label: report}, [one-line problem per unreadable report file])`` for the given runs."""
    reports, problems = {}, []
    for entry in entries:
        for path in report_files(workspace, entry):
            try:
                doc = load_report(path)
            except LoadError as exc:
                problems.append(f"{entry.name}: {exc}")
                continue
            label = report_label(entry.name, doc)
            if label not in reports:  # the studio's report wins over the command line's copy
                reports[label] = doc
    return reports, problems


def _x(kind: str, values: Sequence) -> list:
    # Rotation mixes degrees and "random": categories, in the report's order.
    return [f"{v:g}" if isinstance(v, (int, float)) else str(v) for v in values] if kind == "rotation" else list(values)


def curve_series(reports: Mapping[str, Mapping[str, Any]], kind: str, metric: str) -> dict:
    """``{label: (x, mean, ci95)}`` of ``metric`` (accuracy, dice, pointing) vs ``kind`` (attack, rotation, scale);
    CIs are over test episodes.  Runs without points of that kind are left out."""
    out = {}
    for label, doc in reports.items():
        curve = doc["curves"][kind]
        if curve["x"]:
            out[label] = (_x(kind, curve["x"]), [s["mean"] for s in curve[metric]],
                          [s.get("ci95") for s in curve[metric]])
    return out


def _cell(stat: Mapping[str, Any] | None) -> str:
    if not stat or not stat.get("n"):
        return "n/a"
    return f"{100 * stat['mean']:.1f} ± {100 * stat['ci95']:.1f}"


def summary_rows(reports: Mapping[str, Mapping[str, Any]]) -> list[dict[str, str]]:
    """One row per report: clean and each condition's accuracy and Dice (%, mean ± 95% CI), episodes, attack."""
    rows = []
    for label, doc in reports.items():
        s = doc.get("settings", {})
        row = {"run": label, "episodes": str(s.get("episodes", "?")),
               "attack": f"{s.get('attack')} {s.get('attack_version') or ''}".strip(),
               "clean acc": _cell(doc["clean"]["accuracy"]), "clean Dice": _cell(doc["clean"]["dice"])}
        for kind, fmt in (("attack", "ε {:.3g}/255"), ("rotation", "rot {}"), ("scale", "scale {}")):
            curve = doc["curves"][kind]
            for j, x in enumerate(curve["x"]):
                name = fmt.format(x * 255 if kind == "attack" else x)
                row[f"{name} acc"] = _cell(curve["accuracy"][j])
                row[f"{name} Dice"] = _cell(curve["dice"][j])
        rows.append(row)
    return rows
