"""Buffers that grow and shrink by rows at the cost of the rows changed, not of the buffer."""

from __future__ import annotations

import torch
from torch import nn


class RowBuffers(nn.Module):
    """A module whose row-indexed buffers (one row per class or per example) edit cheaply.

    Appending writes into spare capacity that doubles when full, so adding one intent to 10,000
    copies one row, not 10,000. Removing rows moves the last rows into the holes, so the order of
    rows changes but nothing else is copied. The buffers themselves stay exact-size views, and
    ``state_dict`` sees only the live rows.

    Example:
        >>> module = RowBuffers()
        >>> module.register_buffer("rows", torch.zeros(0, 2))
        >>> module.append_rows("rows", torch.ones(3, 2))
        >>> module.remove_rows(("rows",), torch.tensor([0]))  # row 2 moves into row 0
        (tensor([0]), tensor([2]))
        >>> module.rows.shape
        torch.Size([2, 2])
    """

    def __init__(self) -> None:
        super().__init__()
        self._spare: dict[str, torch.Tensor] = {}  # name -> storage the buffer is a prefix of

    def set_rows(self, name: str, rows: torch.Tensor) -> None:
        """Replace the buffer ``name`` by ``rows``, with an eighth spare for later appends.

        The spare keeps the first edits after a fit from copying the whole buffer.
        """
        with torch.inference_mode(False):  # storage that later edits may write into
            spare = rows.new_empty((len(rows) + len(rows) // 8 + 16, *rows.shape[1:]))
            spare[: len(rows)] = rows
        self._spare[name] = spare
        setattr(self, name, spare[: len(rows)])

    def append_rows(self, name: str, rows: torch.Tensor) -> None:
        """Append ``rows`` to the buffer (or plain tensor attribute) ``name``.

        Args:
            name: Attribute holding an ``(n, ...)`` tensor.
            rows: ``(m, ...)`` rows of the same trailing shape and dtype.
        """
        current = getattr(self, name)
        n, m = current.shape[0], rows.shape[0]
        spare = self._spare.get(name)
        if spare is None or spare.data_ptr() != current.data_ptr() or spare.shape[0] < n + m:
            with torch.inference_mode(False):  # storage that later edits may write into
                spare = current.new_empty((max(2 * (n + m), 16), *current.shape[1:]))
                spare[:n] = current
            self._spare[name] = spare
        spare[n : n + m] = rows
        setattr(self, name, spare[: n + m])

    def remove_rows(
        self, names: tuple[str, ...], rows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Delete the same rows from several buffers, filling the holes with the last rows.

        Args:
            names: Attributes of equal length to edit alike.
            rows: ``(k,)`` distinct row indices to delete.

        Returns:
            ``(holes, moved)``: row ``moved[i]`` now lives at row ``holes[i]``.
        """
        total = getattr(self, names[0]).shape[0]
        rows = rows.unique()  # sorted
        kept = total - rows.numel()
        holes = rows[rows < kept]  # (h,)
        tail = torch.arange(kept, total)
        moved = tail[~torch.isin(tail, rows)]  # (h,) the surviving last rows
        for name in names:
            current = getattr(self, name)
            if holes.numel():
                current[holes] = current[moved]
            setattr(self, name, current[:kept])
        return holes, moved

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Row buffers grow with the support set: take the saved sizes before copying.
        for name, _ in self.named_buffers(recurse=False):
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
