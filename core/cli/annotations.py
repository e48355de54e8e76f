"""``annotations {summary,export,import,backup,restore}``: the workspace's annotation store from the command line."""

from __future__ import annotations

import argparse
import json
import sys

NAME = "annotations"
HELP = ("summarise, export (de-identified PNG/NIfTI bundle) or import the workspace's ROI annotations; "
        "back up or restore its whole database")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    sub.required = True
    summary = sub.add_parser("summary", help="count images, ROIs per label and class labels")
    summary.add_argument("--json", action="store_true", help="print one JSON object")
    export = sub.add_parser("export", help="write a de-identified bundle: masks/*.png, volumes/*.nii.gz, manifest.json")
    export.add_argument("folder", metavar="FOLDER", help="new (or empty) folder for the bundle")
    export.add_argument("--image-id", type=int, action="append", dest="image_ids",
                        help="export only this image id (repeatable; default: all)")
    export.add_argument("--include-source-paths", action="store_true",
                        help="keep original file paths and names in the manifest (NOT de-identified)")
    export.add_argument("--no-volumes", action="store_true", help="skip the per-label NIfTI masks of 3-D volumes")
    export.add_argument("--no-geometry", action="store_true", help="leave the canvas shapes out of the manifest")
    imp = sub.add_parser("import", help="read a bundle's manifest and masks into this workspace (idempotent)")
    imp.add_argument("bundle", metavar="BUNDLE", help="bundle folder or its manifest.json")
    backup = sub.add_parser("backup", help="copy the whole store (ROIs, history, labels, jobs) while the studio "
                                           "keeps working; never overwrites a file")
    backup.add_argument("dest", metavar="DEST", help="new backup file, or a folder to put a time-stamped one in")
    restore = sub.add_parser("restore", help="replace the store by a backup (the current one is kept aside)")
    restore.add_argument("source", metavar="BACKUP", help="a file written by `annotations backup`")
    restore.add_argument("--replace", action="store_true",
                         help="restore even though the current store holds annotations or jobs")


def run(args: argparse.Namespace) -> int:
    import warnings

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
        if args.action == "export":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the same notes are printed below
                result = export_bundle(store, args.folder, image_ids=args.image_ids,
                                       include_source_paths=args.include_source_paths,
                                       include_geometry=not args.no_geometry, volumes=not args.no_volumes,
                                       progress=args.progress)
            for note in result.warnings:
                print(f"warning: {note}", file=sys.stderr)
            print(f"exported {result.n_rois} ROI(s) on {result.n_images} image(s), {result.n_volumes} volume mask(s)"
                  f" to {result.folder}")
            return 0
        summary = import_bundle(store, args.bundle, progress=args.progress)
        print(f"imported {summary.rois_added} ROI(s) ({summary.rois_existing} already present), "
              f"{summary.images_added} new image(s), {summary.labels_set} class label(s)")
        return 0
    finally:
        store.close()


def _counts(counts: dict) -> str:
    return (f"{counts['images']} image(s), {counts['rois']} ROI(s), {counts['image_labels']} class label(s) and "
            f"{counts['jobs']} job(s)")
