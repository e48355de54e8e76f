"""Model-proposed ROIs and what each reader decided about them (the provenance of assisted ROIs).

A proposal keeps the model's mask and where it came from (checkpoint name
and hash, explainer and its parameters).  Each reader decides once:
*accepted* as proposed, *edited* (accepted with a mask of their own) or
*rejected*.  Accepting creates an ordinary ROI owned by the reader, in the
same transaction as the decision, so later edits are the ROI's usual
versions and the final ROI can always be compared with the proposal.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import numpy as np

from core.errors import ConfigError
from core.store.database import Database, utc_now
from core.store.errors import NotFoundError, StoreError
from core.store.readers import validate_reader_name
from core.store.records import Proposal, ProposalDecision
from core.store.rois import _encode, _text

__all__ = ["ProposalsMixin"]

_COLUMNS = ("id, image_id, label, model, model_sha256, method, mask_png, mask_sha256, area, score, created_at")
_DECISION = "proposal_id, reader, decision, roi_id, decided_at"


def _proposal(row: tuple) -> Proposal:
    (id_, image_id, label, model, model_sha, method, png, sha, area, score, created) = row
    return Proposal(id_, image_id, label, model, model_sha, json.loads(method), bytes(png), sha, area, score, created)


class ProposalsMixin:
    """Store, list and decide model-proposed ROIs."""

    def add_proposal(self: Database, image_id: int, label: str, mask: np.ndarray, *, model: str,
                     model_sha256: str, method: Mapping[str, Any], score: float | None = None) -> Proposal:
        """Save a model's proposed ROI ``mask`` (H, W) bool for the image."""
        label, model = _text(label, "ROI label"), _text(model, "model name")
        png, sha, area = _encode(mask)
        try:
            method_json = json.dumps(dict(method), sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"proposal method must be JSON-serialisable ({exc})") from None
        with self._write() as conn:
            row = conn.execute("SELECT shape FROM images WHERE id = ?", (int(image_id),)).fetchone()
            if row is None:
                raise NotFoundError(f"image {image_id} does not exist in this workspace")
            if tuple(np.shape(mask)) != tuple(json.loads(row[0])):
                raise ConfigError(f"proposed mask has shape {tuple(np.shape(mask))} but image {image_id} is "
                                  f"{tuple(json.loads(row[0]))}")
            cur = conn.execute(
                "INSERT INTO roi_proposals (image_id, label, model, model_sha256, method, mask_png, mask_sha256,"
                " area, score, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (int(image_id), label, model, str(model_sha256), method_json, png, sha, area,
                 None if score is None else float(score), utc_now()))
            return _proposal(conn.execute(f"SELECT {_COLUMNS} FROM roi_proposals WHERE id = ?",
                                          (cur.lastrowid,)).fetchone())

    def get_proposal(self: Database, proposal_id: int) -> Proposal:
        row = self._conn().execute(f"SELECT {_COLUMNS} FROM roi_proposals WHERE id = ?",
                                   (int(proposal_id),)).fetchone()
        if row is None:
            raise NotFoundError(f"proposal {proposal_id} does not exist in this workspace")
        return _proposal(row)

    def list_proposals(self: Database, image_id: int | None = None, *,
                       pending_for: str | None = None) -> list[Proposal]:
        """Proposals (oldest first), of one image, and/or only those ``pending_for`` a reader has not decided."""
        where, args = [], []
        if image_id is not None:
            where.append("image_id = ?")
            args.append(int(image_id))
        if pending_for is not None:
            where.append("id NOT IN (SELECT proposal_id FROM proposal_decisions WHERE reader = ?)")
            args.append(validate_reader_name(pending_for))
        sql = f"SELECT {_COLUMNS} FROM roi_proposals" + (" WHERE " + " AND ".join(where) if where else "")
        return [_proposal(r) for r in self._conn().execute(sql + " ORDER BY id", args).fetchall()]

    def decide_proposal(self: Database, proposal_id: int, reader: str, *, accept: bool,
                        mask: np.ndarray | None = None, label: str | None = None,
                        geometry: Any = None) -> ProposalDecision:
        """Record ``reader``'s decision; accepting stores an ROI owned by the reader.

        ``accept`` with no ``mask`` (or the proposal's own mask) is *accepted*;
        with a different mask it is *edited*; ``accept=False`` is *rejected*
        and stores no ROI.  A reader decides each proposal once.
        """
        reader = validate_reader_name(reader)
        proposal = self.get_proposal(proposal_id)
        final = proposal.mask if mask is None else np.asarray(mask, bool)
        decision = "rejected"
        if accept:
            decision = "accepted" if np.array_equal(final, proposal.mask) else "edited"
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM proposal_decisions WHERE proposal_id = ? AND reader = ?",
                            (proposal.id, reader)).fetchone():
                raise StoreError(f"{reader} already decided on proposal {proposal.id}; edit the ROI instead")
            roi_id = None
            if accept:
                roi = self._insert_roi(conn, proposal.image_id, label or proposal.label, final, annotator=reader,
                                       geometry=geometry)
                roi_id = roi.id
            now = utc_now()
            conn.execute(f"INSERT INTO proposal_decisions ({_DECISION}) VALUES (?, ?, ?, ?, ?)",
                         (proposal.id, reader, decision, roi_id, now))
        return ProposalDecision(proposal.id, reader, decision, roi_id, now)

    def proposal_decisions(self: Database, proposal_id: int | None = None) -> list[ProposalDecision]:
        sql, args = f"SELECT {_DECISION} FROM proposal_decisions", ()
        if proposal_id is not None:
            sql, args = sql + " WHERE proposal_id = ?", (int(proposal_id),)
        return [ProposalDecision(*r) for r in self._conn().execute(sql + " ORDER BY proposal_id, decided_at", args)]
