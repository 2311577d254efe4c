"""Per-episode KV caches kept between turns, so a growing multi-turn context is encoded once.

Without it, every turn re-encodes the whole episode. With it, a turn feeds only the tokens after
the cached prefix: the last token generated in the previous turn (sampled but never fed) and the
new observation. Rows of a batch have prefixes of different lengths, so each row is laid out as
``[pad | cached prefix | pad | new tokens]`` with the padding masked and true position ids: the
keys keep the rotary positions they were computed at, and the last column is always a real token.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class CachedPrefix:
    ids: list[int]
    """The tokens whose keys and values are stored."""
    layers: list[tuple[torch.Tensor, torch.Tensor]]
    """Per layer, keys and values of shape (heads, len(ids), head_dim)."""


def cache_layers(cache) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
    """Keys and values per layer of a plain dynamic cache; None for caches this does not handle
    (sliding windows, quantised or offloaded caches), which then simply are not reused."""
    layers = getattr(cache, "layers", None)
    if layers is not None:
        if any(type(layer).__name__ != "DynamicLayer" for layer in layers):
            return None
        return [(layer.keys, layer.values) for layer in layers]
    if hasattr(cache, "key_cache") and hasattr(cache, "value_cache"):  # transformers 4.x
        return list(zip(cache.key_cache, cache.value_cache))
    return None


def build_cache(layers: list[tuple[torch.Tensor, torch.Tensor]]):
    from transformers import DynamicCache

    try:
        return DynamicCache(ddp_cache_data=layers)
    except TypeError:  # older transformers
        return DynamicCache.from_legacy_cache(tuple(layers))


class PrefixStore:
    """Cached prefixes by episode key; an entry is used only if it is a true prefix of the context."""

    def __init__(self) -> None:
        self.entries: dict[int, CachedPrefix] = {}

    def lookup(self, key: int, context: list[int]) -> CachedPrefix | None:
        entry = self.entries.get(key)
        n = len(entry.ids) if entry else 0
        if entry is None or n >= len(context) or context[:n] != entry.ids:
            return None
        return entry

    def store(self, key: int, ids: list[int], layers: list[tuple[torch.Tensor, torch.Tensor]], row: int,
              mask_row: torch.Tensor) -> None:
        keep = mask_row.bool()
        self.entries[key] = CachedPrefix(list(ids), [(k[row][:, keep], v[row][:, keep]) for k, v in layers])

    def retain(self, keys: set[int]) -> None:
        """Forget episodes that are no longer being played."""
        for key in [k for k in self.entries if k not in keys]:
            del self.entries[key]


def prefill_inputs(prefixes: list[CachedPrefix | None], contexts: list[list[int]], pad_id: int,
                   device: torch.device):
    """Batched inputs for contexts of which ``prefixes`` are already encoded.

    Returns ``(input_ids, attention_mask, position_ids, cache)``; the mask covers the cached columns
    followed by the new ones.
    """
    lengths = [len(p.ids) if p else 0 for p in prefixes]
    news = [context[n:] for context, n in zip(contexts, lengths)]
    batch, cached, width = len(contexts), max(lengths), max(map(len, news))
    ids = torch.full((batch, width), pad_id, dtype=torch.long)
    positions = torch.zeros((batch, width), dtype=torch.long)
    mask = torch.zeros((batch, cached + width), dtype=torch.long)
    for b, (new, n) in enumerate(zip(news, lengths)):
        ids[b, width - len(new):] = torch.tensor(new, dtype=torch.long)
        positions[b, width - len(new):] = torch.arange(n, n + len(new))
        mask[b, cached - n:cached] = 1
        mask[b, cached + width - len(new):] = 1
    template = next(p for p in prefixes if p is not None).layers
    layers = []
    for index, (key0, value0) in enumerate(template):
        heads, _, dim = key0.shape
        keys = key0.new_zeros((batch, heads, cached, dim))
        values = value0.new_zeros((batch, heads, cached, dim))
        for b, prefix in enumerate(prefixes):
            if prefix is not None:
                n = len(prefix.ids)
                keys[b, :, cached - n:] = prefix.layers[index][0]
                values[b, :, cached - n:] = prefix.layers[index][1]
        layers.append((keys, values))
    return ids.to(device), mask.to(device), positions.to(device), build_cache(layers)
