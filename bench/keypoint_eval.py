# SPDX-License-Identifier: Apache-2.0
"""COCO person-keypoint evaluation for the accuracy benchmark and its tests (not the core).

COCO's own code (pycocotools, a development dependency) matches each image's detections to
the labelled people by OKS. The per-image matches are then summarised here, with the same
arithmetic as ``COCOeval.accumulate`` for the "all areas, 20 detections" row (checked against
``COCOeval.summarize`` on every run), so that AP can be recomputed for any score threshold and
any bootstrap resample of the images without re-matching.

Coordinates: COCO keypoints are integer pixel positions, the convention of our keypoints
(centre of the top-left pixel at (0, 0)); they are compared as they are.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
import io
import os
import pathlib

import numpy as np

from movenet_ros.core.tracking import COCO_SIGMAS

DEV_SET_ENV = 'MOVENET_DEV_SET'
DEV_SET_NAME = pathlib.Path('shared', 'data', 'coco-keypoints-dev')
ANNOTATIONS = 'person_keypoints.json'
OKS_VARS = (2.0 * COCO_SIGMAS) ** 2
OKS_THRESHOLDS = np.linspace(0.5, 0.95, 10)   # COCO's
RECALL_POINTS = np.linspace(0.0, 1.0, 101)    # COCO's
MAX_DETECTIONS = 20                           # COCO's for keypoints


def find_dev_set(repo: pathlib.Path) -> pathlib.Path | None:
    """The labelled development set: ``$MOVENET_DEV_SET``, else ``shared/data/coco-keypoints-dev``
    beside the repository or beside one of its parent folders (a worktree); None if absent."""
    if os.environ.get(DEV_SET_ENV):
        path = pathlib.Path(os.environ[DEV_SET_ENV]).expanduser()
        return path if (path / ANNOTATIONS).is_file() else None
    for parent in repo.resolve().parents:
        if (parent / DEV_SET_NAME / ANNOTATIONS).is_file():
            return parent / DEV_SET_NAME
    return None


def dev_set_absence() -> str:
    """Why :func:`find_dev_set` found nothing, in words for a skip or an error message."""
    if os.environ.get(DEV_SET_ENV):
        return (f'${DEV_SET_ENV} is {os.environ[DEV_SET_ENV]!r}, which holds no '
                f'{ANNOTATIONS}')
    return (f'no {DEV_SET_NAME / ANNOTATIONS} beside the repository or any of its parent '
            f'folders, and ${DEV_SET_ENV} is not set')


def load_coco(annotations: pathlib.Path):
    """A pycocotools COCO object, without its progress prints."""
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(annotations))


def labelled_people(coco) -> list[dict]:
    """The annotations COCO's keypoint AP counts: not crowds, at least one keypoint."""
    return [a for a in coco.loadAnns(coco.getAnnIds(iscrowd=False)) if a['num_keypoints'] > 0]


def coco_oks(annotation: dict, keypoints: np.ndarray) -> float:
    """OKS of predicted (17, 2+) pixel keypoints with one labelled person, as COCO computes it
    (labelled keypoints only, the person's segment area as scale)."""
    truth = np.asarray(annotation['keypoints'], dtype=np.float64).reshape(17, 3)
    labelled = truth[:, 2] > 0
    d2 = ((truth[:, :2] - keypoints[:, :2]) ** 2).sum(axis=1)
    e = d2 / OKS_VARS / (annotation['area'] + np.spacing(1)) / 2.0
    return float(np.exp(-e)[labelled].mean())


def torso_size(annotation: dict) -> float | None:
    """Left shoulder to right hip (else right shoulder to left hip), the PCK reference length
    of the LSP evaluations; None when neither diagonal is labelled."""
    truth = np.asarray(annotation['keypoints'], dtype=np.float64).reshape(17, 3)
    for a, b in ((5, 12), (6, 11)):
        if truth[a, 2] > 0 and truth[b, 2] > 0:
            return float(np.hypot(*(truth[a, :2] - truth[b, :2])))
    return None


def pck(annotation: dict, keypoints: np.ndarray, fraction: float = 0.2) -> float | None:
    """Share of labelled keypoints within ``fraction`` x torso size of the label (None when
    the torso is not labelled)."""
    size = torso_size(annotation)
    if not size:
        return None
    truth = np.asarray(annotation['keypoints'], dtype=np.float64).reshape(17, 3)
    labelled = truth[:, 2] > 0
    dist = np.hypot(*(truth[:, :2] - keypoints[:, :2]).T)
    return float((dist[labelled] <= fraction * size).mean())


def as_detection(image_id: int, keypoints: np.ndarray, score: float) -> dict:
    """One result entry in COCO's format."""
    flat = np.column_stack([keypoints[:, :2], np.ones(17)]).ravel()
    return {'image_id': int(image_id), 'category_id': 1, 'keypoints': flat.tolist(),
            'score': float(score)}


@dataclass
class ImageMatches:
    """One image's detections matched by COCOeval (all areas, at most 20 detections)."""

    image_id: int
    scores: np.ndarray        # (D,) best first
    matched: np.ndarray       # (T, D) bool: matched to a labelled person at OKS threshold t
    ignored: np.ndarray       # (T, D) bool: matched to a person COCO ignores (no keypoints)
    people: int               # labelled people COCO counts
    oks: dict[int, np.ndarray]  # labelled person's annotation id -> (D,) OKS per detection


class Evaluation:
    """COCOeval's matches of one set of detections, summarised for any threshold/resample."""

    def __init__(self, coco, detections: list[dict], image_ids: list[int]) -> None:
        from pycocotools.cocoeval import COCOeval

        self.image_ids = list(image_ids)
        with contextlib.redirect_stdout(io.StringIO()):
            results = coco.loadRes(detections) if detections else None
            if results is None:
                from pycocotools.coco import COCO
                results = COCO()
                results.dataset = {'images': coco.dataset['images'], 'annotations': [],
                                   'categories': coco.dataset['categories']}
                results.createIndex()
            cocoeval = COCOeval(coco, results, 'keypoints')
            cocoeval.params.imgIds = self.image_ids
            cocoeval.evaluate()
            cocoeval.accumulate()
            cocoeval.summarize()
        self.coco_stats = cocoeval.stats
        self.images: dict[int, ImageMatches] = {}
        for index, image_id in enumerate(self.image_ids):
            record = cocoeval.evalImgs[index]  # category 0, area 'all' (first)
            gts = cocoeval._gts[image_id, 1]
            dts = sorted(cocoeval._dts[image_id, 1], key=lambda d: -d['score'])[:MAX_DETECTIONS]
            ious = cocoeval.ious.get((image_id, 1), [])
            ious = np.asarray(ious, dtype=np.float64).reshape(len(dts), len(gts)) \
                if len(dts) and len(gts) else np.zeros((len(dts), len(gts)))
            oks_per = {gt['id']: ious[:, g].copy() for g, gt in enumerate(gts)
                       if gt['num_keypoints'] > 0 and not gt['iscrowd']}
            if record is None:
                scores = np.zeros(0)
                matched = ignored = np.zeros((len(OKS_THRESHOLDS), 0), dtype=bool)
                people = sum(1 for g in gts if g['num_keypoints'] > 0 and not g['iscrowd'])
            else:
                scores = np.asarray(record['dtScores'], dtype=np.float64)
                matched = np.asarray(record['dtMatches']) > 0
                ignored = np.asarray(record['dtIgnore'], dtype=bool)
                people = int(np.count_nonzero(np.asarray(record['gtIgnore']) == 0))
            self.images[image_id] = ImageMatches(image_id, scores, matched, ignored, people,
                                                 oks_per)
        check = self.summary(self.image_ids)
        pairs = ((check['ap'], self.coco_stats[0]), (check['ap50'], self.coco_stats[1]),
                 (check['ar'], self.coco_stats[5]))
        for mine, theirs in pairs:
            if abs(mine - max(theirs, 0.0)) > 1e-9:
                raise AssertionError(f'AP summary {check} disagrees with COCOeval '
                                     f'{self.coco_stats}')

    def summary(self, image_ids, min_score: float = 0.0) -> dict:
        """AP (OKS .50:.95), AP50 and AR of the detections scoring at least ``min_score`` in
        ``image_ids`` (repeats allowed: a bootstrap resample), COCO's arithmetic."""
        records = [self.images[i] for i in image_ids]
        people = sum(r.people for r in records)
        if people == 0:
            return {'ap': 0.0, 'ap50': 0.0, 'ar': 0.0}
        scores = np.concatenate([r.scores for r in records])
        keep = scores >= min_score
        order = np.argsort(-scores[keep], kind='mergesort')
        matched = np.concatenate([r.matched for r in records], axis=1)[:, keep][:, order]
        ignored = np.concatenate([r.ignored for r in records], axis=1)[:, keep][:, order]
        tp = np.cumsum(matched & ~ignored, axis=1).astype(np.float64)
        fp = np.cumsum(~matched & ~ignored, axis=1).astype(np.float64)
        aps, recalls = [], []
        for t in range(len(OKS_THRESHOLDS)):
            if tp.shape[1] == 0:
                aps.append(0.0)
                recalls.append(0.0)
                continue
            recall = tp[t] / people
            precision = tp[t] / (tp[t] + fp[t] + np.spacing(1))
            envelope = np.maximum.accumulate(precision[::-1])[::-1]
            at = np.searchsorted(recall, RECALL_POINTS, side='left')
            sampled = np.where(at < len(envelope), envelope[np.minimum(at, len(envelope) - 1)],
                               0.0)
            aps.append(float(sampled.mean()))
            recalls.append(float(recall[-1]))
        return {'ap': float(np.mean(aps)), 'ap50': aps[0], 'ar': float(np.mean(recalls))}

    def found(self, image_ids, min_score: float, oks: float = 0.5) -> tuple[int, int, int]:
        """(labelled people matched at ``oks``, labelled people, detections not matched to
        anyone) among detections scoring at least ``min_score``: recall and precision."""
        t = int(np.argmin(np.abs(OKS_THRESHOLDS - oks)))
        hit = people = false = 0
        for i in image_ids:
            r = self.images[i]
            keep = r.scores >= min_score
            hit += int(np.count_nonzero(r.matched[t, keep] & ~r.ignored[t, keep]))
            false += int(np.count_nonzero(~r.matched[t, keep] & ~r.ignored[t, keep]))
            people += r.people
        return hit, people, false

    def best_oks(self, image_ids, min_score: float = 0.0) -> dict[int, float]:
        """Annotation id -> the best OKS any detection scoring >= ``min_score`` has with that
        person (0 if none), over ``image_ids`` (each once)."""
        out = {}
        for i in dict.fromkeys(image_ids):
            r = self.images[i]
            keep = r.scores >= min_score
            for ann, per in r.oks.items():
                out[ann] = float(per[keep].max()) if keep.any() else 0.0
        return out


def bootstrap(values_of, samples: int, units: list, seed: int = 0) -> tuple[float, float]:
    """The 95 % percentile interval of ``values_of(resample)`` over ``samples`` resamples of
    ``units`` with replacement."""
    rng = np.random.default_rng(seed)
    stats = [values_of([units[i] for i in rng.integers(0, len(units), len(units))])
             for _ in range(samples)]
    low, high = np.percentile(stats, [2.5, 97.5])
    return float(low), float(high)
