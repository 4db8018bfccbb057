"""Language codes as the CIKM AnalytiCup 2025 data spells them (note ``vn`` for Vietnamese)."""

from __future__ import annotations

#: code -> English name. The keys are the only codes ingest accepts.
LANGUAGES: dict[str, str] = {
    "ar": "Arabic",
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "id": "Indonesian",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "pl": "Polish",
    "pt": "Portuguese",
    "th": "Thai",
    "vn": "Vietnamese",
}

#: Our code -> ISO 639-1 code, for libraries (lingua, translators) that speak ISO. Only ``vn`` differs.
_ISO_639_1 = {"vn": "vi"}


def to_iso(code: str) -> str:
    """ISO 639-1 code for one of ours (``vn`` -> ``vi``)."""
    if code not in LANGUAGES:
        raise KeyError(f"unknown language code {code!r}; known: {sorted(LANGUAGES)}")
    return _ISO_639_1.get(code, code)


def from_iso(iso: str) -> str:
    """Our code for an ISO 639-1 code (``vi`` -> ``vn``)."""
    for ours, theirs in _ISO_639_1.items():
        if theirs == iso:
            return ours
    if iso not in LANGUAGES:
        raise KeyError(f"no ecomrel language for ISO code {iso!r}")
    return iso


def name(code: str) -> str:
    return LANGUAGES[code]
