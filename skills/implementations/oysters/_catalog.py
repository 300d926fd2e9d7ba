"""The supplier's fixed oyster price list (EUR per dozen)."""

from __future__ import annotations

from decimal import Decimal

SUPPLIER = "Atlantique Coquillages (wholesale)"
CURRENCY = "EUR"
VALID_FROM = "2026-11-01"

# French calibre numbers: a smaller number is a larger oyster (0 is the largest graded here).
WEIGHT_PER_DOZEN_KG: dict[int, Decimal] = {
    0: Decimal("1.80"),
    1: Decimal("1.50"),
    2: Decimal("1.30"),
    3: Decimal("1.05"),
    4: Decimal("0.85"),
    5: Decimal("0.70"),
}

VARIETIES: dict[str, dict] = {
    "gillardeau": {
        "name": "Gillardeau",
        "species": "Crassostrea gigas",
        "origin": "Charente-Maritime, France",
        "prices": {2: "38.00", 3: "34.00", 4: "30.00"},
    },
    "fine_de_claire": {
        "name": "Fine de Claire",
        "species": "Crassostrea gigas",
        "origin": "Marennes-Oléron, France",
        "prices": {2: "21.00", 3: "18.50", 4: "16.00"},
    },
    "speciale_de_claire": {
        "name": "Spéciale de Claire",
        "species": "Crassostrea gigas",
        "origin": "Marennes-Oléron, France",
        "prices": {2: "26.00", 3: "23.50"},
    },
    "belon": {
        "name": "Belon",
        "species": "Ostrea edulis",
        "origin": "Brittany, France",
        "prices": {0: "48.00", 1: "42.00", 2: "36.00"},
    },
    "kumamoto": {
        "name": "Kumamoto",
        "species": "Crassostrea sikamea",
        "origin": "Humboldt Bay, USA",
        "prices": {4: "32.00", 5: "29.00"},
    },
    "pacific_rock": {
        "name": "Pacific Rock",
        "species": "Crassostrea gigas",
        "origin": "Jersey, Channel Islands",
        "prices": {2: "17.00", 3: "15.00", 4: "13.50"},
    },
}


def resolve_variety(value: object, field: str = "variety") -> str:
    """Map a variety key or display name (case-insensitive) to its key."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field}: must be a non-empty string")
    wanted = value.strip().lower().replace("-", " ").replace("_", " ")
    for key, info in VARIETIES.items():
        names = {
            key.replace("_", " "),
            info["name"].lower(),
            info["name"].lower().replace("é", "e"),
        }
        if wanted in names:
            return key
    raise ValueError(f"{field}: unknown variety {value!r}; known: {', '.join(VARIETIES)}")


def price_per_dozen(variety: str, size: int, field: str = "size") -> Decimal:
    """Price of one dozen of ``variety`` in calibre ``size``."""
    prices = VARIETIES[variety]["prices"]
    if size not in prices:
        sizes = ", ".join(str(s) for s in sorted(prices))
        raise ValueError(
            f"{field}: {VARIETIES[variety]['name']} is sold in sizes {sizes}, not {size}"
        )
    return Decimal(prices[size])


def entries() -> list[dict]:
    """All price-list rows, ordered by variety key and size."""
    rows = []
    for key in sorted(VARIETIES):
        info = VARIETIES[key]
        for size in sorted(info["prices"]):
            rows.append(
                {
                    "variety": key,
                    "name": info["name"],
                    "species": info["species"],
                    "origin": info["origin"],
                    "size": size,
                    "price_per_dozen": float(Decimal(info["prices"][size])),
                    "weight_per_dozen_kg": float(WEIGHT_PER_DOZEN_KG[size]),
                }
            )
    return rows
