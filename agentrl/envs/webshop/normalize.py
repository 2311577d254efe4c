"""String matching exactly as WebShop's reward computes it.

WebShop scores with ``thefuzz.fuzz.token_set_ratio``: both strings are cut to ASCII (code points
128-255 dropped), lowercased, stripped of everything but letters and digits, compared with
rapidfuzz's token-set ratio, and the score is rounded to an integer. The reward's thresholds
("> 85") apply to that rounded integer, so :func:`token_set_ratio` reproduces the rounding.

Colours are normalised with WebShop's colour vocabulary: the first entry of :data:`COLOR_SET`
(in its alphabetical order) that occurs as a substring wins, so ``"dark grey"`` becomes ``"dark"``
and ``"stonewash"`` becomes ``"ash"``, exactly as in the original.
"""

from __future__ import annotations

from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

#: WebShop's colour vocabulary, in the order it is searched.
COLOR_SET: tuple[str, ...] = (
    "alabaster",
    "apricot",
    "aqua",
    "ash",
    "asphalt",
    "azure",
    "banana",
    "beige",
    "black",
    "blue",
    "blush",
    "bordeaux",
    "bronze",
    "brown",
    "burgundy",
    "camel",
    "camo",
    "caramel",
    "champagne",
    "charcoal",
    "cheetah",
    "chestnut",
    "chocolate",
    "christmas",
    "coffee",
    "cognac",
    "copper",
    "coral",
    "cranberry",
    "cream",
    "crystal",
    "dark",
    "denim",
    "eggplant",
    "elephant",
    "espresso",
    "fuchsia",
    "gold",
    "granite",
    "grape",
    "graphite",
    "grass",
    "gray",
    "green",
    "grey",
    "heather",
    "indigo",
    "ivory",
    "ivy",
    "khaki",
    "lavender",
    "lemon",
    "leopard",
    "light",
    "lilac",
    "lime",
    "magenta",
    "maroon",
    "mauve",
    "merlot",
    "midnight",
    "mint",
    "mocha",
    "multicolor",
    "mushroom",
    "mustard",
    "natural",
    "navy",
    "nude",
    "olive",
    "orange",
    "peach",
    "pewter",
    "pink",
    "plum",
    "purple",
    "rainbow",
    "red",
    "rose",
    "royal",
    "rust",
    "sand",
    "sapphire",
    "seashell",
    "silver",
    "skull",
    "slate",
    "steel",
    "stone",
    "stonewash",
    "sunflower",
    "tan",
    "taupe",
    "teal",
    "tiger",
    "turquoise",
    "violet",
    "walnut",
    "wheat",
    "white",
    "wine",
    "yellow",
)

_LATIN1_HIGH = {code: None for code in range(128, 256)}


def normalize_color(value: str | tuple[str, ...]) -> str | tuple[str, ...]:
    """The first :data:`COLOR_SET` entry contained in ``value``, else ``value`` unchanged.

    For a string "contained" means a substring; for a ``(name, value)`` pair, as upstream's
    ``get_reward`` passes a synthetic goal's options, it means one of the pair's strings equals
    the colour (Python's ``in``), exactly as upstream's ``normalize_color`` behaves on a tuple.
    """
    for color in COLOR_SET:
        if color in value:
            return color
    return value


def _process(text: object) -> str:
    return default_process(str(text).translate(_LATIN1_HIGH))


def token_set_ratio(a: object, b: object) -> int:
    """``thefuzz.fuzz.token_set_ratio(a, b)``: an integer in [0, 100].

    Like thefuzz, a non-string (such as a ``(name, value)`` pair) is compared as its ``str``.
    """
    if a is None or b is None:
        return 0
    return round(fuzz.token_set_ratio(_process(a), _process(b)))
