"""The exact top classes of a prototype head at the cost of one fp16 pass over its rows.

A message against 10,000 intents of 10 examples would read 100,000 example vectors (150 MB) for
the nearest-example evidence and 10,000 prototype rows (15 MB) in float32. Instead:

1. one fp16 product over the scoring rows (7.7 MB) gives every class's score within a proven
   bound (``ops.HALF_PRECISION_ERROR``);
2. the first few classes are scored exactly, with their examples;
3. every class whose upper bound (its fp16 score plus the bound, and a nearest example of
   cosine 1) still reaches the k-th best exact score is scored exactly too.

A class left out cannot be among the top ``k``: the winner and the ``k`` classes listed are
exactly those of the full computation, unless step 3 would score more than
``SHORTLIST`` classes (128). Then the classes with the best bounds are scored and
``TopClasses.exact`` is False for that message: a class beyond them wins the full computation
only if its nearest example beats the winner's by nine times their prototype scores' gap (at
the default mix of a tenth). That happens on messages far from every intent in a registry
of thousands (random-vector registries in ``make bench``); BENCHMARKS.md gives the rates.

Only the softmax normaliser is estimated: classes off the shortlist enter it with their
scoring row's cosine standing in for their nearest example.

A registry of at most ``EXACT_PASS`` classes (128) skips all this: one exact pass over every
class and example costs less than the shortlist's bookkeeping (after the encoder has filled the
caches, 0.2 against 0.5 ms for 10 intents), and its normaliser is exact.
"""

from __future__ import annotations

from functools import partial

import torch

from intentmeta import ops
from intentmeta.heads.base import FewShotHead, HeadStep, TopClasses

#: Most classes a message scores exactly (``PrototypicalHead.shortlist``): bounds the work.
SHORTLIST = 128
#: Heads of at most this many classes (and at most ``shortlist``) score all in one exact pass:
#: the same small-registry bound as the out-of-scope evidence's exact product.
EXACT_PASS = ops.EXACT_ROWS


def _key(rows: torch.Tensor) -> tuple | None:
    try:
        return (id(rows), rows.data_ptr(), rows.shape[0], rows._version)
    except RuntimeError:  # inference tensors keep no version counter: always re-copy
        return None


class HalfPrecisionRows(HeadStep):
    """An fp16 copy of a head's scoring rows and their norms, kept in step edit by edit.

    The rows are the head's ``linear_form()[0]`` (adapted rows or prototypes); as a step it
    comes after the steps that change them. Not part of the head's state: it is rebuilt from the
    rows whenever they changed behind its back (checked by identity and version counter on
    every use).

    Example:
        >>> rows = torch.tensor([[3.0, 4.0]])
        >>> screen = HalfPrecisionRows(dim=2)
        >>> screen.current(rows)[1]
        tensor([5.])
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.half = torch.empty(0, dim, dtype=torch.float16)  # (n, dim)
        self.norms = torch.empty(0)  # (n,)
        self._source: tuple | None = None

    def reset(self, head: FewShotHead, support: torch.Tensor, columns: torch.Tensor) -> None:
        """Copy all the rows after a whole support set."""
        self.copy(head.linear_form()[0])

    def loaded(self, head: FewShotHead) -> None:
        """Copy all the rows after a load."""
        self.copy(head.linear_form()[0])

    def add(self, head: FewShotHead, support: torch.Tensor, column: int) -> None:
        """The last row was just appended."""
        rows = head.linear_form()[0]  # (n, dim)
        self.append_rows("half", rows[-1:].detach().half())
        self.append_rows("norms", rows[-1:].detach().norm(dim=1))
        self._source = _key(rows)

    def extend(self, head: FewShotHead, support: torch.Tensor, column: int) -> None:
        """Row ``column`` changed."""
        rows = head.linear_form()[0]  # (n, dim)
        self.half[column] = rows[column].detach().half()
        self.norms[column] = rows[column].detach().norm()
        self._source = _key(rows)

    def drop(self, head: FewShotHead, column: int, last: int) -> None:
        """Row ``column`` was removed, the last row moving into it."""
        self.remove_rows(("half", "norms"), torch.tensor([column]))
        self._source = _key(head.linear_form()[0])

    def copy(self, rows: torch.Tensor) -> None:
        """Copy all ``(n, dim)`` rows."""
        self._source = _key(rows)
        with torch.inference_mode(False):  # may run inside classify; later edits write here
            self.set_rows("half", rows.detach().half())
            self.set_rows("norms", rows.detach().norm(dim=1))

    def current(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(n, dim)`` fp16 rows and ``(n,)`` norms of ``rows``, re-copied if stale."""
        key = _key(rows)
        if key is None or key != self._source or len(self.half) != len(rows):
            self.copy(rows)
        return self.half, self.norms


def shortlisted_top(head: FewShotHead, unit_queries: torch.Tensor, k: int) -> TopClasses:
    """:meth:`FewShotHead.top` of a cosine prototype head, scoring a shortlist exactly.

    Args:
        head: A :class:`PrototypicalHead` (cosine metric).
        unit_queries: ``(n_query, dim)`` projected, normalised queries.
        k: Classes wanted per query.

    Returns:
        What :meth:`FewShotHead.top` returns; the normaliser is estimated (module docstring).
    """
    rows, offsets = head.linear_form()  # (n, dim), (n,) or None
    half, norms = head.screen.current(rows)
    safe_norms, slack = _bounds(norms)  # (n,) each, the queries being unit vectors
    approx = ops.half_precision_scores(unit_queries, half)  # (n_query, n)
    cosine = (approx / safe_norms).clamp(-1.0, 1.0)  # (n_query, n)
    if offsets is not None:
        approx = approx + offsets
    nearest = head.nearest
    mix = 0.0 if nearest is None else nearest.weight
    upper = (1 - mix) * (approx + slack) + mix  # a nearest example has cosine at most 1

    estimate = (1 - mix) * approx + mix * cosine  # (n_query, n), for the normaliser

    def exact(query: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        score = query @ rows[columns].T  # (1, m)
        if offsets is not None:
            score = score + offsets[columns]
        if nearest is None:
            return score
        return nearest.mix(score, nearest.evidence_for(query, columns))

    if unit_queries.shape[0] == 1:  # one message (classify): no slicing, no concatenation
        values, best, columns, scores, exact_top = ops.bounded_top_k(
            approx, upper, partial(exact, unit_queries), k, limit=head.shortlist
        )
        estimate[0, columns] = scores[0]
    else:
        found = []
        for row in range(unit_queries.shape[0]):  # one shortlist per message, within the limit
            values, best, columns, scores, exact_top = ops.bounded_top_k(
                approx[row : row + 1],
                upper[row : row + 1],
                partial(exact, unit_queries[row : row + 1]),
                k,
                limit=head.shortlist,
            )
            estimate[row, columns] = scores[0]
            found.append((values, best, exact_top))
        values, best, exact_top = (torch.cat(parts) for parts in zip(*found, strict=True))
    temperature = head.temperature
    normaliser = (estimate / temperature).logsumexp(dim=1)
    return TopClasses(values / temperature, best, normaliser, exact_top)


#: The last ``norms`` seen (held, so its identity cannot be reused), its version and bounds.
_BOUNDS: list[tuple] = []


def _bounds(norms: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``norms`` kept off zero, and the fp16 first pass's error bound of each row: computed once
    per version of ``norms`` (every message needs them, only an edit changes them)."""
    version = None if norms.is_inference() else norms._version
    last = _BOUNDS[0] if _BOUNDS else None
    if version is None or last is None or last[0] is not norms or last[1] != version:
        with torch.inference_mode(False):  # usable outside inference mode too
            bounds = norms.clamp(min=1e-12), ops.HALF_PRECISION_ERROR * norms + 1e-6
        last = (norms, version, bounds)
        _BOUNDS[:] = [last]
    return last[2]
