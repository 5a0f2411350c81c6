"""How display names ("Farfetch'd", "Mr. Mime", "Nidoran♀", "Flabébé") become corpus tokens."""

import re
import unicodedata

_SYMBOLS = {"♀": "f", "♂": "m"}


def slugify(name: str) -> str:
    """``"Mr. Mime" -> "mr-mime"``, ``"Flabébé" -> "flabebe"``, ``"Nidoran♀" -> "nidoranf"``."""
    for sym, rep in _SYMBOLS.items():
        name = name.replace(sym, rep)
    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_ = re.sub(r"['’.:]", "", ascii_.lower())
    return re.sub(r"[^a-z0-9]+", "-", ascii_).strip("-")
