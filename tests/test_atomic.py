"""Atomic writes: old content survives a failed write, and nothing is left behind."""

from __future__ import annotations

import os

import pytest

from core.atomic import atomic_path, write_json_atomic, write_text_atomic


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "report.json"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer crashed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_temp_name_keeps_suffixes_and_result_has_usual_permissions(tmp_path):
    target = tmp_path / "sub" / "mask.nii.gz"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.endswith(".nii.gz") and tmp != target
        tmp.write_bytes(b"x")
    assert target.read_bytes() == b"x"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_json_refuses_nan_without_touching_the_file(tmp_path):
    target = tmp_path / "m.json"
    write_json_atomic(target, {"acc": 0.5})
    with pytest.raises(ValueError):
        write_json_atomic(target, {"acc": float("nan")})
    assert target.read_text() == '{\n  "acc": 0.5\n}\n'
