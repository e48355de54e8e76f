"""``inspect PATH``: what an image file holds, as the loader sees it."""

from __future__ import annotations

import argparse
import json
import sys

NAME = "inspect"
HELP = "show format, modality, shape, spacing, window and de-identified metadata of an image file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from core.io.window import preset_names

    parser.add_argument("path", metavar="PATH", help="DICOM, NIfTI (.nii/.nii.gz), PNG, JPEG or TIFF file")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--window", default="default", choices=["default", *preset_names()],
                        help="window to report (default: the file's own, else auto)")
    parser.add_argument("--include-phi", action="store_true",
                        help="also show patient-identifying DICOM attributes (names, IDs, dates, UIDs)")


def _table(summary: dict) -> str:
    rows = [
        ("name", summary["name"] or "-"),
        ("format", summary["format"]),
        ("modality", summary["modality"] or "-"),
        ("photometric", summary["photometric"]),
        ("shape", " x ".join(map(str, summary["shape"]))),
        ("frames", f"{summary['n_frames']} of {' x '.join(map(str, summary['frame_shape']))}"),
        ("spacing (mm)", " x ".join(f"{s:g}" for s in summary["spacing_mm"])),
        ("value range", "{:g} .. {:g}".format(*summary["value_range"])),
        ("window", "{name} (C {center:g} / W {width:g}, {function}{kind})".format(
            **summary["window"], kind=", VOI LUT" if summary["window"]["lut"] else "")),
    ]
    if summary["file_windows"]:
        rows.append(("file windows", "; ".join(summary["file_windows"])))
    vol = summary.get("volume")
    if vol:
        rows.append(("volume", f"{' x '.join(map(str, vol['canonical_shape']))} {vol['orientation']}"))
        rows.append(("slices", ", ".join(f"{k} {v}" for k, v in vol["slices"].items())))
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    if summary["metadata"]:
        lines.append("metadata:")
        mwidth = max(len(k) for k in summary["metadata"])
        lines += [f"  {k:<{mwidth}}  {v}" for k, v in summary["metadata"].items()]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from core.io import image_summary, load_image

    image = load_image(args.path, include_phi=args.include_phi)
    summary = image_summary(image, args.window)
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(_table(summary))
    return 0
