"""k-NN balls of resampled sets: the radii within each resample, and which points each resample's balls hold.

Improved precision/recall (Kynkaanniemi et al. 2019) and density/coverage (Naeem et al. 2020) build a
manifold from balls around a set's points, each reaching its point's k-th nearest neighbour in the
same set. A bootstrap resample is a multiset of N draws holding ~63% of the points, so its balls
differ from the full set's: keeping the full set's radii in every resample made precision/recall
intervals cover their target in only 50-86 of 120 redraws (issue 19). Here every resample gets its own
radii: the plug-in statistic on the multiset, in which a point's copies are neighbours at distance 0
and every other point counts as often as it was drawn.

Only each point's NEIGHBOURS nearest others are searched for its k-th neighbour within a resample:
a resample holds fewer than k = 3 of them with probability ~3e-5 per point (Binomial(16, 0.63)), and
the radius is then the NEIGHBOURS-th distance. Which points a ball holds is decided on the pairs
(point, centre) within the largest radius the centre has in any resample, found once by chunked cdist,
so every resample costs a few operations per such pair rather than an N x N distance matrix.
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch import Tensor

NEIGHBOURS = 16
ROWS = 256  # points per cdist block
COLUMNS = 128  # resamples per block of the (pairs, resamples) tests


def _neighbours(x: Tensor, count: int) -> tuple[Tensor, Tensor]:
    """(N, count) distances and indices of each row's `count` nearest OTHER rows, nearest first."""
    dist, index = [], []
    for start in range(0, len(x), ROWS):
        d = torch.cdist(x[start:start + ROWS], x)
        rows = torch.arange(len(d))
        d[rows, start + rows] = torch.inf  # the point itself is no neighbour (its copies in a resample are, below)
        values, indices = d.topk(count, dim=1, largest=False)
        dist.append(values)
        index.append(indices)
    return torch.cat(dist), torch.cat(index)


def ball_radii(x: Tensor, w: Tensor, k: int) -> Tensor:
    """(N, C) radius of each row's ball in every column of multiplicities w (N, C): the distance to its
    k-th nearest neighbour in that resample, its own extra copies at distance 0. All-ones weights give
    the full set's k-th nearest other point."""
    count = min(NEIGHBOURS, len(x) - 1)
    dist, index = _neighbours(x, count)
    copies = (w - 1).clamp(min=0)
    out = torch.empty(w.shape, dtype=dist.dtype)
    for cols in _blocks(w.shape[1]):
        # (N, count, C'): k neighbours within the first j
        reached = copies[:, None, cols] + w[index, cols].cumsum(dim=1) >= k
        # argmax: the first True
        first = torch.where(reached.any(dim=1), reached.to(torch.uint8).argmax(dim=1), count - 1)
        out[:, cols] = torch.where(copies[:, cols] >= k, 0.0, dist.gather(1, first))
    return out


def _pairs(points: Tensor, centres: Tensor, reach: Tensor,
           by_point: bool) -> Iterator[tuple[int, int, Tensor, Tensor, Tensor]]:
    """Blocks of (start, rows, p, q, d): the pairs (point start + p, centre q) at distance d <= reach (of the
    centre, or of the point when `by_point`); no pair farther than that can count in any resample."""
    for start in range(0, len(points), ROWS):
        d = torch.cdist(points[start:start + ROWS], centres)
        limit = reach[start:start + len(d), None] if by_point else reach[None, :]
        p, q = (d <= limit).nonzero(as_tuple=True)
        yield start, len(d), p, q, d[p, q]


def _blocks(columns: int) -> Iterator[slice]:
    return (slice(c, c + COLUMNS) for c in range(0, columns, COLUMNS))


def _cols(t: Tensor, cols: slice) -> Tensor:
    """Columns `cols` of a (N, C) tensor; a (N, 1) one (a set that is not resampled) serves every column."""
    return t if t.shape[1] == 1 else t[:, cols]


def _within(d: Tensor, radii: Tensor, strict: bool) -> Tensor:
    return d[:, None] < radii if strict else d[:, None] <= radii


def inside_any(points: Tensor, centres: Tensor, radii: Tensor, present: Tensor, by_point: bool = False,
               strict: bool = False) -> Tensor:
    """(N_points, C) bool: whether each point lies within the ball of at least one centre present in each
    resample (present (N_centres, C) bool). The radii (C columns) belong to the centres, or with `by_point`
    to the points (coverage: a real ball holds a fake). Precision/recall take d <= r, density/coverage d < r."""
    reach = radii.max(dim=1).values
    columns = max(radii.shape[1], present.shape[1])
    out = torch.zeros(len(points), columns, dtype=torch.bool)
    for start, rows, p, q, d in _pairs(points, centres, reach, by_point):
        owner = start + p if by_point else q
        for cols in _blocks(columns):
            hit = _cols(present, cols)[q] & _within(d, _cols(radii, cols)[owner], strict)
            hit = hit.expand(len(p), len(range(columns)[cols]))
            out[start:start + rows, cols] = (torch.zeros(rows, hit.shape[1], dtype=torch.int32)
                                             .index_add_(0, p, hit.int()) > 0)
    return out


def weighted_ball_pairs(points: Tensor, centres: Tensor, radii: Tensor, w_points: Tensor, w_centres: Tensor) -> Tensor:
    """(C,) sum over (point, centre) pairs with the point strictly inside the centre's ball of
    w_points * w_centres, per resample (density's numerator; weights and radii with 1 or C columns)."""
    columns = max(w_points.shape[1], w_centres.shape[1], radii.shape[1])
    total = torch.zeros(columns, dtype=torch.float64)
    for start, _, p, q, d in _pairs(points, centres, radii.max(dim=1).values, by_point=False):
        for cols in _blocks(columns):
            inside = _within(d, _cols(radii, cols)[q], strict=True)
            total[cols] += (_cols(w_points, cols)[start + p] * _cols(w_centres, cols)[q] * inside).sum(dim=0)
    return total
