"""Turn an intent into a query string in one language, and item facts into an English marketplace title.

Word order follows how people type product searches in each language: modifiers before the noun in English,
German and Polish (colour), after it in the Romance languages, Arabic, Indonesian and Vietnamese; Japanese glues
colour + material + noun together with no space, Thai writes noun + material + colour as one run, Korean
sometimes joins the material to the noun. Adjectives agree in gender and number with the noun where the
language requires it (es fr pt it pl ar). Queries are lower-cased, as most real ones are.
"""

from __future__ import annotations

import random

from .lexicons import AUDIENCES, COLOURS, MATERIALS, PRODUCTS, SIZE_FORMAT, inflect

#: Title-case exceptions for product words in English titles.
_TITLE_WORDS = {"tv": "TV", "led": "LED", "usb": "USB", "rc": "RC", "wifi": "WiFi"}


def _join(*parts: str | None, sep: str = " ") -> str:
    return sep.join(p for p in parts if p)


def render_query(lang: str, product: str | None, attributes: dict[str, str], rng: random.Random) -> str:
    """Query text for a product intent (``product`` = product key) or a brand-only one (``product=None``)."""
    brand = attributes.get("brand", "").lower() or None
    if product is None:
        if brand is None:
            raise ValueError("a brand-only query needs a 'brand' attribute")
        return brand
    word = PRODUCTS[product][lang]
    noun, gender = word.text, word.gender
    colour = inflect(COLOURS[attributes["colour"]][lang], lang, gender) if "colour" in attributes else None
    material = MATERIALS[attributes["material"]][lang] if "material" in attributes else None
    audience = inflect(AUDIENCES[attributes["audience"]][lang], lang, gender) if "audience" in attributes else None
    size = SIZE_FORMAT[lang].format(attributes["size"].lower()) if "size" in attributes else None

    if lang == "en":
        if audience and rng.random() < 0.4:
            text = _join(brand, colour, material, noun, "for " + audience, size)
        else:
            text = _join(brand, audience, colour, material, noun, size)
    elif lang in ("es", "fr", "pt", "it", "ar"):
        text = _join(noun, colour, material, audience, brand, size)
    elif lang == "de":
        text = _join(brand, audience, noun, colour, material, size)
    elif lang == "pl":
        text = _join(colour, noun, audience, material, brand, size)
    elif lang in ("id", "vn"):
        text = _join(noun, material, colour, audience, brand, size)
    elif lang == "th":
        text = _join(_join(noun, material, colour, sep=""), audience, brand, size)
    elif lang == "ja":
        text = _join(brand, audience, _join(colour, material, noun, sep=""), size)
    elif lang == "ko":
        head = _join(material, noun, sep="" if rng.random() < 0.5 else " ")
        text = _join(brand, audience, colour, head, size)
    else:
        raise ValueError(f"no query word order for language {lang!r}")
    return text.lower()


def title_case(product: str) -> str:
    return " ".join(_TITLE_WORDS.get(w, w[:1].upper() + w[1:]) for w in product.split())


def render_title(product: str, attributes: dict[str, str], fillers: tuple[str, ...], rng: random.Random) -> str:
    """``"Aurelle Women's Cotton Dress Summer Casual, Blue, M"``: brand, audience, material, product type and
    neutral filler words, then colour and size as trailing facets (colour sometimes up front instead)."""
    colour = COLOURS[attributes["colour"]]["title"] if "colour" in attributes else None
    colour_first = colour is not None and rng.random() < 0.35
    size = attributes.get("size")
    head = _join(
        attributes["brand"],
        AUDIENCES[attributes["audience"]]["title"] if "audience" in attributes else None,
        colour if colour_first else None,
        MATERIALS[attributes["material"]]["title"] if "material" in attributes else None,
        title_case(product),
        *rng.sample(fillers, rng.randint(1, min(3, len(fillers)))),
    )
    facets = [colour if colour and not colour_first else None, ("EU " + size if size and size.isdigit() else size)]
    return _join(head, *facets, sep=", ")
