"""KV caches of batched generation: per-episode prefixes kept between turns, and the batch buffer.

Prefix reuse: without it, every turn re-encodes the whole episode. With it, a turn feeds only the
tokens after the cached prefix: the last token generated in the previous turn (sampled but never
fed) and the new observation. Rows of a batch have prefixes of different lengths, so each row is
laid out as ``[pad | cached prefix | pad | new tokens | generated]`` (:class:`BatchLayout`) with the
padding masked and true position ids: the keys keep the rotary positions they were computed at, and
the last prefill column is always a real token.

The batch buffer: transformers' default cache grows by concatenation, which copies the whole cache
at every decode step. :class:`BufferedCache` instead allocates each layer's keys and values once per
generation, with room for the prefixes, the new tokens and every decode step, and writes each step's
column in place. It replaces only plain full-attention layers; models whose default cache holds
anything else (sliding windows, quantised or offloaded layers) and transformers < 4.54 (no per-layer
cache objects) keep the default cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

try:
    from transformers.cache_utils import DynamicCache, DynamicLayer
except ImportError:  # transformers < 4.54: no per-layer cache objects, generation takes the plain path
    DynamicCache = DynamicLayer = None

KV = tuple[torch.Tensor, torch.Tensor]


@dataclass
class CachedPrefix:
    ids: list[int]
    """The tokens whose keys and values are stored."""
    layers: list[KV]
    """Per layer, keys and values of shape (heads, len(ids), head_dim)."""


@dataclass
class BatchLayout:
    """Where each row's tokens sit among the batch's KV columns: ``[pad | prefix | pad | new | generated]``."""

    prefix_lens: list[int]
    """Cached tokens of each row (0 for a row without a cached prefix)."""
    new_lens: list[int]
    """Tokens each row feeds in the prefill."""

    @property
    def cached(self) -> int:
        """Columns holding the cached prefixes (right-aligned)."""
        return max(self.prefix_lens)

    @property
    def width(self) -> int:
        """Columns of the prefill (right-aligned, so the last one is a real token of every row)."""
        return max(self.new_lens)

    def spans(self, row: int, length: int) -> tuple[slice, slice]:
        """The columns of ``row``'s real tokens once the cache holds ``length`` columns."""
        cached, fresh = self.cached, self.cached + self.width - self.new_lens[row]
        return slice(cached - self.prefix_lens[row], cached), slice(fresh, length)

    def inputs(self, contexts: list[list[int]], pad_id: int, decode_steps: int):
        """``(input_ids, positions, mask)`` of the prefill; ``mask`` covers every column the
        generation can fill (prefill and ``decode_steps`` more), so decoding only slices it."""
        batch, cached, width = len(contexts), self.cached, self.width
        ids = torch.full((batch, width), pad_id, dtype=torch.long)
        positions = torch.zeros((batch, width), dtype=torch.long)
        mask = torch.zeros((batch, cached + width + decode_steps), dtype=torch.long)
        mask[:, cached + width:] = 1
        for b, (context, n, new) in enumerate(zip(contexts, self.prefix_lens, self.new_lens)):
            ids[b, width - new:] = torch.tensor(context[n:], dtype=torch.long)
            positions[b, width - new:] = torch.arange(n, n + new)
            prefix, fresh = self.spans(b, cached + width)
            mask[b, prefix] = 1
            mask[b, fresh] = 1
        return ids, positions, mask


def layout_of(prefixes: list[CachedPrefix | None], contexts: list[list[int]]) -> BatchLayout:
    lengths = [len(p.ids) if p else 0 for p in prefixes] if prefixes else [0] * len(contexts)
    return BatchLayout(lengths, [len(c) - n for c, n in zip(contexts, lengths)])


def padded_prefix_layers(prefixes: list[CachedPrefix | None], layout: BatchLayout, extra: int = 0) -> list[KV]:
    """Per layer, the prefixes right-aligned in ``(batch, heads, cached + extra, dim)`` tensors.

    The padding before each prefix is zeroed (masked scores are added to, not replaced, so it must
    be finite); the ``extra`` columns are left unset for the prefill and decoding to write."""
    template = next(p for p in prefixes if p is not None).layers
    cached, layers = layout.cached, []
    for index, (key0, value0) in enumerate(template):
        heads, _, dim = key0.shape
        keys = key0.new_empty((len(prefixes), heads, cached + extra, dim))
        values = value0.new_empty((len(prefixes), heads, cached + extra, dim))
        for b, prefix in enumerate(prefixes):
            n = len(prefix.ids) if prefix is not None else 0
            keys[b, :, :cached - n] = 0
            values[b, :, :cached - n] = 0
            if prefix is not None:
                keys[b, :, cached - n:cached] = prefix.layers[index][0]
                values[b, :, cached - n:cached] = prefix.layers[index][1]
        layers.append((keys, values))
    return layers


def row_layers(layers: list[KV], position: int, layout: BatchLayout, row: int, length: int) -> list[KV]:
    """Compact copies of one batch row's keys and values (its real columns only)."""
    prefix, fresh = layout.spans(row, length)
    return [(torch.cat([k[position, :, prefix], k[position, :, fresh]], dim=1),
             torch.cat([v[position, :, prefix], v[position, :, fresh]], dim=1)) for k, v in layers]


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

    def store(self, key: int, ids: list[int], layers: list[KV]) -> None:
        self.entries[key] = CachedPrefix(list(ids), layers)

    def retain(self, keys: set[int]) -> None:
        """Forget episodes that are no longer being played."""
        for key in [k for k in self.entries if k not in keys]:
            del self.entries[key]


# ---------------------------------------------------------------------------------- cache objects
def cache_layers(cache) -> list[KV] | None:
    """Keys and values per layer of a full-attention cache; None for caches this does not handle
    (sliding windows, quantised or offloaded caches), which then simply are not reused."""
    layers = getattr(cache, "layers", None)
    if layers is not None:
        if any(type(layer) not in (DynamicLayer, BufferedLayer) for layer in layers):
            return None
        return [(layer.keys, layer.values) for layer in layers]
    if hasattr(cache, "key_cache") and hasattr(cache, "value_cache"):  # transformers 4.x
        return list(zip(cache.key_cache, cache.value_cache))
    return None


def plain_cache(layers: list[KV]):
    """transformers' default (concatenating) cache holding ``layers``."""
    from transformers import DynamicCache as Default

    try:
        return Default(ddp_cache_data=layers)
    except TypeError:  # older transformers
        return Default.from_legacy_cache(tuple(layers))


def buffered_layer_count(model) -> int:
    """Layers of a :class:`BufferedCache` for ``model``; 0 when its default cache holds anything but
    plain full-attention layers (or transformers predates per-layer caches)."""
    if DynamicCache is None or getattr(model, "config", None) is None:
        return 0
    try:
        layers = DynamicCache(config=model.config).layers
    except (TypeError, ValueError, AttributeError, KeyError):  # a config the cache cannot read
        return 0
    return len(layers) if layers and all(type(layer) is DynamicLayer for layer in layers) else 0


def buffered_cache(num_layers: int, capacity: int, prefixes: list[CachedPrefix | None] | None,
                   layout: BatchLayout) -> BufferedCache:
    """A cache with room for ``capacity`` columns, holding the batch's cached prefixes if any."""
    cache = BufferedCache(num_layers, capacity)
    if prefixes and any(prefixes):
        padded = padded_prefix_layers(prefixes, layout, extra=capacity - layout.cached)
        for layer, (keys, values) in zip(cache.layers, padded):
            layer.hold(keys, values, layout.cached)
    return cache


if DynamicLayer is not None:

    class BufferedLayer(DynamicLayer):
        """A full-attention layer cache written in place into buffers preallocated for a whole
        generation, so a decode step copies one column instead of the whole cache. ``keys`` and
        ``values`` are views of the filled columns, as transformers expects."""

        def __init__(self, capacity: int):
            super().__init__()
            self.capacity = capacity
            self.length = 0
            self.key_buffer: torch.Tensor | None = None
            self.value_buffer: torch.Tensor | None = None

        def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
            # Unset columns are never read: the prefill and each decode step write before attending.
            batch, heads, _, dim = key_states.shape
            self.hold(key_states.new_empty((batch, heads, self.capacity, dim)),
                      value_states.new_empty((batch, heads, self.capacity, dim)), 0)

        def hold(self, key_buffer: torch.Tensor, value_buffer: torch.Tensor, length: int) -> None:
            """Use these buffers, of which the first ``length`` columns are filled."""
            self.key_buffer, self.value_buffer, self.length = key_buffer, value_buffer, length
            self.device = key_buffer.device
            self.is_initialized = True
            self._expose()

        def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs) -> KV:
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            end = self.length + key_states.shape[-2]
            if end > self.key_buffer.shape[-2]:  # more columns than planned: grow once, then go on in place
                self._map(lambda t: torch.cat([t, t.new_zeros(t.shape[:2] + (end - t.shape[2], t.shape[3]))], 2))
            self.key_buffer[:, :, self.length:end] = key_states
            self.value_buffer[:, :, self.length:end] = value_states
            self.length = end
            self._expose()
            return self.keys, self.values

        def _expose(self) -> None:
            self.keys = self.key_buffer[:, :, :self.length]
            self.values = self.value_buffer[:, :, :self.length]

        def _map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
            if self.is_initialized:
                self.key_buffer, self.value_buffer = fn(self.key_buffer), fn(self.value_buffer)
                self._expose()

        def batch_select_indices(self, indices: torch.Tensor) -> None:
            self._map(lambda t: t[indices])

        def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
            self._map(lambda t: t.index_select(0, beam_idx.to(t.device)))

        def batch_repeat_interleave(self, repeats: int) -> None:
            self._map(lambda t: t.repeat_interleave(repeats, dim=0))

        def crop(self, tokens_to_remove: int) -> None:
            if tokens_to_remove > 0:
                raise ValueError("crop takes a negative number of tokens to remove")
            if self.is_initialized:
                self.length = max(0, self.length + tokens_to_remove)
                self._expose()

        def reset(self) -> None:
            super().reset()
            self.key_buffer = self.value_buffer = None
            self.length = 0

    class BufferedCache(DynamicCache):
        """A ``DynamicCache`` of :class:`BufferedLayer` with room for ``capacity`` columns."""

        def __init__(self, num_layers: int, capacity: int):
            super().__init__()
            self.layers = [BufferedLayer(capacity) for _ in range(num_layers)]
            self.layer_class_to_replicate = None

else:  # pragma: no cover - only with transformers < 4.54
    BufferedLayer = BufferedCache = None
