"""A blinded reader study and a model-proposed ROI, in a real chromium (issue 11's "Done when").

One Streamlit server for the module over a blinded workspace (``set_workspace_blinded(True)``) with two
PNG scans (a bright disc each) and a tiny classifier trained for seconds to find such discs.  Two readers
read the same scan in two browser contexts (two independent sessions): neither sees the other's ROI
until they have submitted, and the Agreement page then shows the Dice of their two outlines, worked out
here from the stored masks.  A third reader asks the model for a proposal, accepts it in the viewer
(select, A, Save), and the store keeps the decision with the model's provenance.  Screenshots go to
``tests/artifacts/``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from browser import CHROMIUM, browser  # noqa: F401 - fixture
from browser import choose_option, fit_transform, sign_in, streamlit_server, viewer_state, wait_for_app, wait_for_viewer
from conftest import ARTIFACTS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (make browser)"),
]

SCAN, OTHER = "a_scan.png", "b_other.png"
SHAPE = (160, 200)  # (H, W)
READER_A, READER_B, READER_C = "Dr Ada Reader", "Dr Bo Reader", "Dr Cy Reader"
RECT_A = ((40, 50), (110, 120))  # image (x, y) corners each reader drags
RECT_B = ((55, 60), (125, 128))


def lesion_classifier(seed: int = 0):
    """The baseline CNN (32 x 32) trained for a few seconds to tell a bright disc from none, so that its
    Grad-CAM, and so the proposal, falls on the scan's lesion (any model would do for the provenance)."""
    import torch
    from torch import nn

    from core.models import ModelConfig, build_model

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:32, :32]
    labels = rng.integers(0, 2, 384)
    images = np.zeros((len(labels), 1, 32, 32), np.float32)
    for i, y in enumerate(labels):
        img = 0.12 + 0.03 * (xx % 3) + 0.05 * rng.standard_normal((32, 32))
        if y:
            cy, cx, r = rng.integers(8, 24, 2).tolist() + [int(rng.integers(4, 8))]
            img = img + 0.6 * (((yy - cy) ** 2 + (xx - cx) ** 2) < r * r)
        images[i, 0] = np.clip(img, 0, 1)
    x, y = torch.tensor(images), torch.tensor(labels)
    model = build_model(ModelConfig(arch="baseline", in_channels=1, num_classes=2, image_size=32))
    optimiser = torch.optim.Adam(model.parameters(), 1e-3)
    for _ in range(4):
        for i in range(0, len(y), 32):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(x[i:i + 32]), y[i:i + 32]).backward()
            optimiser.step()
    return model.eval()


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from PIL import Image

    from core.store import AnnotationStore
    from core.training import save_checkpoint
    from core.workspace import Workspace

    ws = Workspace(tmp_path_factory.mktemp("study") / "workspace")
    folder = ws.root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[:SHAPE[0], :SHAPE[1]]
    for name, (cy, cx, r) in ((SCAN, (85, 85, 35)), (OTHER, (60, 130, 25))):
        Image.fromarray(np.uint8(30 + 160 * (((yy - cy) ** 2 + (xx - cx) ** 2) < r * r) + xx % 7)).save(folder / name)
    checkpoint = save_checkpoint(ws.checkpoints / "tiny" / "model.pt", lesion_classifier())
    store = AnnotationStore(ws)
    store.set_workspace_blinded(True)
    with streamlit_server(ws.root, tmp_path_factory.mktemp("server") / "server.log") as url:
        yield url, store, folder, checkpoint


@pytest.fixture
def contexts(browser):
    made = []

    def new_page():
        context = browser.new_context(viewport={"width": 1400, "height": 1600})
        made.append(context)
        return context.new_page()

    yield new_page
    for context in made:
        context.close()


def open_as(page, url: str, reader: str, file: str, folder) -> dict:
    from core.store import sha256_file

    page.goto(f"{url}/annotate")
    wait_for_app(page)
    sign_in(page, reader)
    if file != SCAN:
        choose_option(page, "Image file", file)
    return wait_for_viewer(page, uid=f"{sha256_file(folder / file)}:None")


def seen(page) -> dict:
    """What the viewer shows: the reader's own stored ROIs, the overlays (reader names), the drawn nodes."""
    return page.evaluate("""() => { const v = window.__equiguardViewers.ann_viewer;
        return { own: v.data.rois.map((r) => r.id), overlays: v.overlays.map((o) => o.name),
                 proposals: v.data.proposals.map((p) => p.name), nodes: v.roiGroup.getChildren().length }; }""")


def draw_rect(page, state: dict, corners) -> None:
    s, left, top = fit_transform(state["stageRect"], SHAPE)
    (x0, y0), (x1, y1) = corners
    page.locator(".eg-tool[data-tool=rect]").click()
    page.mouse.move(left + s * x0, top + s * y0)
    page.mouse.down()
    page.mouse.move(left + s * x1, top + s * y1, steps=6)
    page.mouse.up()


def wait_until(predicate, what: str, page=None, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            if page is not None:
                page.wait_for_function("() => !window.__equiguardViewers.ann_viewer.session.pendingSave")
                wait_for_app(page)
            return found
        time.sleep(0.2)
    status = page.locator(".eg-status").inner_text() if page is not None else ""
    raise AssertionError(f"timed out waiting for {what}; viewer says {status!r}")


def rerun_with_label(page, label: str) -> None:
    """Set the reader's class label (a rerun of the page in this session, as a reader would cause one)."""
    field = page.get_by_label("Your class label for this image", exact=True)
    field.fill(label)
    field.press("Enter")
    page.get_by_role("button", name="Set class label").click()
    page.get_by_text(f"Class label set to '{label}'").wait_for(timeout=30000)
    wait_for_app(page)


def submit(page) -> None:
    page.get_by_role("button", name="Submit reading").click()
    page.get_by_text("Reading submitted").wait_for(timeout=30000)
    wait_for_app(page)


def mask_of(store, image_id: int, reader: str) -> np.ndarray:
    (roi,) = [r for r in store.list_rois(image_id) if r.annotator == reader]
    return roi.mask


def test_two_blinded_readers_see_each_other_only_after_submitting_and_agreement_shows_their_dice(study, contexts):
    url, store, folder, _ = study
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    a, b = contexts(), contexts()
    state_a = open_as(a, url, READER_A, SCAN, folder)
    assert a.get_by_text("stay hidden until you submit").count() == 1
    draw_rect(a, state_a, RECT_A)
    a.locator(".eg-save").click()
    wait_until(lambda: store.list_rois(annotator=READER_A), "reader A's ROI", a)
    image_id = store.list_rois(annotator=READER_A)[0].image_id

    state_b = open_as(b, url, READER_B, SCAN, folder)  # A's ROI is stored, but B has not submitted
    assert seen(b) == {"own": [], "overlays": [], "proposals": [], "nodes": 0}
    draw_rect(b, state_b, RECT_B)
    b.locator(".eg-save").click()
    wait_until(lambda: store.list_rois(annotator=READER_B), "reader B's ROI", b)
    b.screenshot(path=str(ARTIFACTS / "reader_study_B_blinded.png"), full_page=True)

    rerun_with_label(a, "nodule")  # A's page runs again after B's save: still only A's own work
    view = seen(a)
    assert view["overlays"] == [] and view["nodes"] == 1 and len(view["own"]) == 1
    assert a.get_by_text("read-only").count() == 0  # no legend, no list of others' ROIs
    a.screenshot(path=str(ARTIFACTS / "reader_study_A_blinded.png"), full_page=True)
    submit(a)
    view = seen(a)
    assert view["overlays"] == [READER_B] and view["nodes"] == 2
    assert a.get_by_role("button", name="Submit reading").is_disabled()
    a.screenshot(path=str(ARTIFACTS / "reader_study_A_submitted.png"), full_page=True)

    rerun_with_label(b, "mass")  # A has submitted, B has not: B still sees only their own
    assert seen(b)["overlays"] == [] and seen(b)["nodes"] == 1
    submit(b)
    assert seen(b)["overlays"] == [READER_A]
    assert b.get_by_text(f"Other readers' class labels: {READER_A}: nodule").count() == 1

    masks = mask_of(store, image_id, READER_A), mask_of(store, image_id, READER_B)
    expected = 2 * (masks[0] & masks[1]).sum() / (masks[0].sum() + masks[1].sum())  # the oracle: the stored masks
    assert masks[0].sum() == 70 * 70 and masks[1].sum() == 70 * 68
    a.locator('[data-testid="stSidebarNav"]').get_by_text("Agreement", exact=True).click()
    a.wait_for_selector('[data-testid="stMetric"]', timeout=30000)
    wait_for_app(a)
    metric = a.locator('[data-testid="stMetric"]').filter(has_text="Mean pairwise Dice")
    shown = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    assert shown == f"{expected:.3f}", (shown, expected)
    assert a.locator('[data-testid="stMetric"]').filter(has_text="Images compared") \
        .locator('[data-testid="stMetricValue"]').inner_text().strip() == "1"
    grids = a.locator('[data-testid="stDataFrame"]')
    assert grids.count() == 2  # per reader, then per image
    a.wait_for_timeout(1000)
    a.screenshot(path=str(ARTIFACTS / "reader_study_agreement.png"), full_page=True)
    for reader_page in (a, b):
        assert reader_page.locator('[data-testid="stException"]').count() == 0
    print(f"\nreader study: Dice {expected:.4f} ({READER_A} {masks[0].sum()} px, {READER_B} {masks[1].sum()} px, "
          f"overlap {(masks[0] & masks[1]).sum()} px); Agreement page shows {shown}")


def test_a_model_proposal_is_accepted_in_the_viewer_and_stored_with_its_provenance(study, contexts):
    from core.store import sha256_file

    url, store, folder, checkpoint = study
    page = contexts()
    page.goto(f"{url}/annotate")
    wait_for_app(page)
    sign_in(page, READER_C)
    choose_option(page, "Assisting model", "classifier: tiny")
    page.get_by_text("Annotate next #1 of").wait_for(timeout=60000)
    page.get_by_role("button", name="Propose ROI").click()
    (proposal,) = wait_until(lambda: store.list_proposals(), "a proposal")
    page.get_by_text(f"Proposal #{proposal.id}", exact=False).first.wait_for(timeout=30000)
    wait_for_app(page)
    record = store.get_image(proposal.image_id)
    state = wait_for_viewer(page, uid=f"{sha256_file(record.source_path)}:None")
    assert seen(page)["proposals"] == [str(proposal.id)]
    assert page.get_by_text("classifier tiny", exact=False).count() >= 1  # provenance next to the viewer

    ys, xs = np.nonzero(proposal.mask)
    k = int(np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2))  # a pixel of the proposal near its centre
    s, left, top = fit_transform(state["stageRect"], record.shape)
    page.locator(".eg-tool[data-tool=select]").click()
    page.mouse.click(left + s * (xs[k] + 0.5), top + s * (ys[k] + 0.5))
    assert viewer_state(page)["selected"] == f"p{proposal.id}"
    page.screenshot(path=str(ARTIFACTS / "proposal_selected.png"), full_page=True)
    page.keyboard.press("a")
    page.locator(".eg-save").click()
    (decision,) = wait_until(lambda: store.proposal_decisions(), "the reader's decision", page)
    roi = store.get_roi(decision.roi_id)
    assert (decision.proposal_id, decision.reader, decision.decision) == (proposal.id, READER_C, "accepted")
    assert roi.annotator == READER_C and roi.label == proposal.label and np.array_equal(roi.mask, proposal.mask)
    assert proposal.model == "tiny" and proposal.model_sha256 == sha256_file(checkpoint)
    assert proposal.method["explainer"] == "gradcam" and proposal.method["threshold"] == 0.5
    assert seen(page)["proposals"] == [] and seen(page)["own"] == [roi.id]  # decided: not sent again
    page.get_by_text(f"from model proposal #{proposal.id} (accepted)").wait_for(timeout=30000)
    page.screenshot(path=str(ARTIFACTS / "proposal_accepted.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    yy, xx = np.mgrid[:SHAPE[0], :SHAPE[1]]
    lesion = ((yy - 85) ** 2 + (xx - 85) ** 2) < 35 ** 2 if record.display_name == SCAN else \
        ((yy - 60) ** 2 + (xx - 130) ** 2) < 25 ** 2
    print(f"\nproposal on {record.display_name}: Dice with the drawn lesion "
          f"{2 * (roi.mask & lesion).sum() / (roi.mask.sum() + lesion.sum()):.3f}")
    print(f"proposal #{proposal.id}: model {proposal.model} sha256 {proposal.model_sha256[:12]} "
          f"method {proposal.method}; decision {decision.decision} by {decision.reader} -> ROI {roi.id} "
          f"({roi.area} px, annotator {roi.annotator})")
