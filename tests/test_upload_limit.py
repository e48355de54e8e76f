"""The configurable upload limit: one clear message on the page, nothing saved, every upload path."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from conftest import REPO_ROOT
from core.errors import ConfigError, LoadError
from core.studio.image_sources import from_upload
from core.studio.planes import save_upload
from core.studio.uploads import UPLOAD_LIMIT_ENV, check_upload, max_upload_bytes, max_upload_mb


def _png(side: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(side).integers(0, 256, (side, side), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(UPLOAD_LIMIT_ENV, raising=False)
    assert max_upload_bytes() == 200 * 2**20 and max_upload_mb() == 200
    monkeypatch.setenv(UPLOAD_LIMIT_ENV, "0.5")
    assert max_upload_bytes() == 2**19 and max_upload_mb() == 1
    check_upload(bytes(2**19), "ok.png")
    with pytest.raises(LoadError, match=r"^big\.dcm is 0\.5 MB; the studio accepts uploads up to 0\.5 MB"):
        check_upload(bytes(2**19 + 1), "/private/folder/big.dcm")
    for bad in ("lots", "-1", "0", "nan"):
        monkeypatch.setenv(UPLOAD_LIMIT_ENV, bad)
        with pytest.raises(ConfigError, match=UPLOAD_LIMIT_ENV):
            max_upload_bytes()


def test_every_upload_path_refuses_an_oversize_file_and_saves_nothing(workspace, monkeypatch):
    data = _png(200)
    monkeypatch.setenv(UPLOAD_LIMIT_ENV, str(len(data) / 2**20 / 2))
    with pytest.raises(LoadError, match="accepts uploads up to"):
        save_upload(workspace, data, "scan.png")
    with pytest.raises(LoadError, match="accepts uploads up to"):
        from_upload(data, "scan.png")
    assert not (workspace.root / "images" / "uploads").exists() or not any((workspace.root / "images").rglob("*.png"))
    monkeypatch.setenv(UPLOAD_LIMIT_ENV, "1")
    path, image = save_upload(workspace, data, "scan.png")
    assert path.is_file() and image.shape[-2:] == (200, 200)


def test_the_page_shows_one_clear_message_for_an_oversize_upload(studio_workspace, monkeypatch):
    data = _png(300)
    monkeypatch.setenv("EQUIGUARD_WORKSPACE", str(studio_workspace.root))
    monkeypatch.setenv(UPLOAD_LIMIT_ENV, "0.01")
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/attack_lab.py").run()
    at.file_uploader(key="al_upload").set_value(("big scan.png", data, "image/png")).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors == [f"big scan.png is {len(data) / 2**20:,.1f} MB; the studio accepts uploads up to 0.01 MB "
                      f"(set {UPLOAD_LIMIT_ENV} to change the limit)"]
