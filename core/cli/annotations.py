"""``annotations {summary,export,import,backup,restore}``: the workspace's annotation store from the command line.

Formats: ``bundle`` (de-identified PNG/NIfTI masks + manifest, every image
kind), ``dicom`` (DICOM SEG + TID 1500 SR per reader for DICOM sources, NIfTI
masks for NIfTI sources); import also reads a DICOM SEG or a NIfTI label map.
``backup`` / ``restore`` copy the whole database online.
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = "annotations"
HELP = ("summarise, export (bundle, or DICOM SEG/SR) or import (bundle, DICOM SEG, NIfTI label map) the "
        "workspace's ROIs; back up or restore its whole database")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    sub.required = True
    summary = sub.add_parser("summary", help="count images, ROIs per label and class labels")
    summary.add_argument("--json", action="store_true", help="print one JSON object")
    export = sub.add_parser("export", help="write a de-identified bundle (masks/*.png, volumes/*.nii.gz, manifest.json)"
                                           " or, with --format dicom, DICOM SEG + SR files")
    export.add_argument("folder", metavar="FOLDER", help="new (or empty) folder for the export")
    export.add_argument("--format", choices=("bundle", "dicom"), default="bundle",
                        help="bundle (default) or dicom: one SEG (+ TID 1500 SR) per reader and series")
    export.add_argument("--identified", action="store_true",
                        help="keep identifiers: bundle source paths/names, or DICOM patient attributes and UIDs "
                             "(NOT de-identified; needed to re-import a SEG into the workspace with the originals)")
    export.add_argument("--no-sr", action="store_true", help="dicom: skip the TID 1500 measurement reports")
    export.add_argument("--image-id", type=int, action="append", dest="image_ids",
                        help="export only this image id (repeatable; default: all)")
    export.add_argument("--include-source-paths", action="store_true",
                        help="keep original file paths and names in the manifest (NOT de-identified)")
    export.add_argument("--no-volumes", action="store_true", help="skip the per-label NIfTI masks of 3-D volumes")
    export.add_argument("--no-geometry", action="store_true", help="leave the canvas shapes out of the manifest")
    imp = sub.add_parser("import", help="read a bundle, a DICOM SEG or a NIfTI label map into this workspace "
                                        "(idempotent; nothing is stored unless everything matches)")
    imp.add_argument("bundle", metavar="PATH", help="bundle folder or its manifest.json, a SEG .dcm, or a label map .nii(.gz)")
    imp.add_argument("--format", choices=("auto", "bundle", "seg", "nifti"), default="auto",
                     help="auto (default): .nii/.nii.gz is a label map, a DICOM file a SEG, anything else a bundle")
    imp.add_argument("--reader", default=None, help="seg/nifti: the reader who drew it (SEG default: its content creator)")
    imp.add_argument("--labels", default=None, metavar="V=NAME,...", help="nifti: names of the label values, "
                     "e.g. 1=necrotic,2=edema,4=enhancing")
    imp.add_argument("--target", default=None, help="nifti: the workspace image to put the labels on, when several fit")
    imp.add_argument("--axis", choices=("axial", "coronal", "sagittal"), default="axial",
                     help="nifti: the slices the ROIs are drawn on (default axial)")
    backup = sub.add_parser("backup", help="copy the whole store (ROIs, history, labels, jobs) while the studio "
                                           "keeps working; never overwrites a file")
    backup.add_argument("dest", metavar="DEST", help="new backup file, or a folder to put a time-stamped one in")
    restore = sub.add_parser("restore", help="replace the store by a backup (the current one is kept aside)")
    restore.add_argument("source", metavar="BACKUP", help="a file written by `annotations backup`")
    restore.add_argument("--replace", action="store_true",
                         help="restore even though the current store holds annotations or jobs")


def run(args: argparse.Namespace) -> int:
    import warnings

    from core.errors import ConfigError
    from core.store import AnnotationStore, backup_store, export_bundle, import_bundle, restore_store

    if args.action == "backup":
        result = backup_store(args.workspace, args.dest)
        print(f"backed up {_counts(result.counts)} to {result.path} (integrity check ok)")
        return 0
    if args.action == "restore":
        restored = restore_store(args.workspace, args.source, replace=args.replace)
        kept = f"; the previous store is kept at {restored.previous}" if restored.previous else ""
        print(f"restored {_counts(restored.counts)}{kept}")
        return 0
    store = AnnotationStore(args.workspace)
    try:
        if args.action == "summary":
            images = store.list_images()
            labels = store.list_image_labels()
            info = {"database": str(store.path), "images": len(images), "rois_per_label": dict(store.roi_counts()),
                    "class_labels": {lab.label: sum(1 for x in labels if x.label == lab.label) for lab in labels}}
            if args.json:
                json.dump(info, sys.stdout, indent=2)
                sys.stdout.write("\n")
            else:
                print(f"database      {info['database']}")
                print(f"images        {info['images']}")
                for label, n in sorted(info["rois_per_label"].items()):
                    print(f"ROIs {label:<8} {n}")
                for label, n in sorted(info["class_labels"].items()):
                    print(f"class {label:<7} {n} image(s)")
            return 0
        if args.action == "export" and args.format == "dicom":
            from core.exchange import export_dicom

            done = export_dicom(store, args.folder, image_ids=args.image_ids, deidentified=not args.identified,
                                structured_reports=not args.no_sr, progress=args.progress)
            for note in done.notes:
                print(f"warning: {note}", file=sys.stderr)
            print(f"exported {done.n_rois} reader ROI label(s) as {len(done.seg_files)} SEG, {len(done.sr_files)} SR "
                  f"and {len(done.nifti_files)} NIfTI file(s) to {done.folder}"
                  + ("" if args.identified else " (de-identified)"))
            return 0
        if args.action == "export":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the same notes are printed below
                result = export_bundle(store, args.folder, image_ids=args.image_ids,
                                       include_source_paths=args.include_source_paths or args.identified,
                                       include_geometry=not args.no_geometry, volumes=not args.no_volumes,
                                       progress=args.progress)
            for note in result.warnings:
                print(f"warning: {note}", file=sys.stderr)
            print(f"exported {result.n_rois} ROI(s) on {result.n_images} image(s), {result.n_volumes} volume mask(s)"
                  f" to {result.folder}")
            return 0
        kind = _import_format(args)
        if kind != "bundle":
            from core.exchange import import_label_map, import_seg, parse_label_names

            if kind == "seg":
                done = import_seg(store, args.bundle, reader=args.reader)
            else:
                if args.labels is None or args.reader is None:
                    raise ConfigError("a NIfTI label map needs --labels V=NAME,... and --reader NAME")
                done = import_label_map(store, args.bundle, parse_label_names(args.labels), reader=args.reader,
                                        target=args.target, axis=args.axis)
            per_label = ", ".join(f"{n} {label}" for label, n in sorted(done.labels.items()))
            print(f"imported {done.rois_added} ROI(s) by {done.reader} ({done.rois_existing} already present), "
                  f"{done.images_added} new plane(s): {per_label or 'none'}")
            return 0
        summary = import_bundle(store, args.bundle, progress=args.progress)
        print(f"imported {summary.rois_added} ROI(s) ({summary.rois_existing} already present), "
              f"{summary.images_added} new image(s), {summary.labels_set} class label(s)")
        return 0
    finally:
        store.close()


def _import_format(args: argparse.Namespace) -> str:
    """The import format: as given, or guessed from the path (label maps by name, SEGs by content)."""
    from pathlib import Path

    from core.exchange.frames import read_header

    if args.format != "auto":
        return args.format
    path = Path(args.bundle)
    if path.name.lower().endswith((".nii", ".nii.gz")):
        return "nifti"
    return "seg" if path.is_file() and read_header(path) is not None else "bundle"


def _counts(counts: dict) -> str:
    return (f"{counts['images']} image(s), {counts['rois']} ROI(s), {counts['image_labels']} class label(s) and "
            f"{counts['jobs']} job(s)")
