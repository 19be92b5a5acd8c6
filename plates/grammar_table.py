"""Plate grammars and OCR confusables as data (../shared/DOMAIN.md, "Kyrgyz plates").

Nothing here is code: adding a country is adding a :class:`GrammarSpec` row. The engine that
reads these rows is :mod:`plates.grammars`.

Pattern alphabet: ``N`` = a digit, ``L`` = a letter of the grammar's ``letters``, ``A`` = either
(a digit or one of ``letters``); a space
separates the groups printed on the plate (it is not a character of the plate number). A
``|`` marks where a two-line plate breaks its lines (for display only).
"""

from __future__ import annotations

from dataclasses import dataclass

DIGITS = "0123456789"
LATIN = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: The twelve Latin letters that have a Cyrillic look-alike: the only ones on Russian plates
#: (GOST R 50577) and the ones the KG scene renderer uses.
CYRILLIC_TWINS = "ABEKMHOPCTYX"


@dataclass(frozen=True)
class GrammarSpec:
    """One plate format of one country.

    Attributes:
        name: unique id, ``<country>_<format>`` lower case, e.g. ``"kg_2016"``.
        country: ISO 3166-1 alpha-2 code the read reports, e.g. ``"KG"``.
        description: what the format is, with its source or doubt.
        patterns: one or more patterns of the same groups (e.g. RU regions of 2 or 3 digits).
        letters: the letters an ``L`` position accepts.
        region_group: index of the space-separated group that holds the region code, or None.
        regions: allowed region codes (the whole group), or None when any value is accepted.
        region_names: known region code -> name (may cover fewer codes than ``regions``).
        certain: False where DOMAIN.md marks the format as uncertain.
        captions: text printed on the plate that is not part of the number (the "KG" under
            the flag); a reader may find it among the characters and leaves it out.
    """

    name: str
    country: str
    description: str
    patterns: tuple[str, ...]
    letters: str
    region_group: int | None = None
    regions: frozenset[str] | None = None
    region_names: tuple[tuple[str, str], ...] = ()
    certain: bool = True
    captions: tuple[str, ...] = ()


KG_REGIONS_2016: tuple[tuple[str, str], ...] = (
    ("01", "Bishkek"),
    ("02", "Osh city"),
    ("03", "Batken"),
    ("04", "Jalal-Abad"),
    ("05", "Naryn"),
    ("06", "Osh region"),
    ("07", "Talas"),
    ("08", "Chui"),
    ("09", "Issyk-Kul"),  # inferred (DOMAIN.md)
)

KZ_REGIONS: tuple[tuple[str, str], ...] = (
    ("01", "Astana"),
    ("02", "Almaty"),
    ("03", "Akmola"),
    ("04", "Aktobe"),
    ("05", "Almaty region"),
    ("06", "Atyrau"),
    ("07", "West Kazakhstan"),
    ("08", "Zhambyl"),
    ("09", "Karaganda"),
    ("10", "Kostanay"),
    ("11", "Kyzylorda"),
    ("12", "Mangystau"),
    ("13", "Turkistan"),
    ("14", "Pavlodar"),
    ("15", "North Kazakhstan"),
    ("16", "East Kazakhstan"),
    ("17", "Shymkent"),
    ("18", "Abai"),
    ("19", "Zhetisu"),
    ("20", "Ulytau"),
)

#: Russian region codes: 01-99 (00 is never issued) and the three-digit codes issued when a
#: region's two-digit series ran out (GOST R 50577 and later orders).
RU_REGIONS: frozenset[str] = frozenset(
    [f"{i:02d}" for i in range(1, 100)]
    + [
        "102",
        "113",
        "116",
        "716",
        "121",
        "123",
        "193",
        "124",
        "125",
        "126",
        "134",
        "136",
        "138",
        "142",
        "147",
        "150",
        "190",
        "750",
        "790",
        "152",
        "154",
        "155",
        "156",
        "159",
        "161",
        "761",
        "163",
        "763",
        "164",
        "173",
        "174",
        "774",
        "177",
        "197",
        "199",
        "777",
        "799",
        "977",
        "178",
        "198",
        "186",
        "188",
    ]
)

#: Every grammar, in priority order: when two fit a read equally well the earlier one wins.
GRAMMARS: tuple[GrammarSpec, ...] = (
    GrammarSpec(
        name="kg_2016",
        country="KG",
        description="Kyrgyzstan since 1 Jun 2016, private cars: NN NNN LLL, region 01-09 on the left",
        patterns=("NN NNN LLL",),
        letters=LATIN,
        region_group=0,
        regions=frozenset(code for code, _ in KG_REGIONS_2016),
        region_names=KG_REGIONS_2016,
        captions=("KG",),
    ),
    GrammarSpec(
        name="kg_2016_short",
        country="KG",
        description=(
            "Kyrgyzstan since 2016, legal entities and (uncertain) motorcycles, the latter on a "
            "two-line plate NN NNN | LL; government NN NNN PT is a subset"
        ),
        patterns=("NN NNN LL",),
        letters=LATIN,
        region_group=0,
        regions=frozenset(code for code, _ in KG_REGIONS_2016),
        region_names=KG_REGIONS_2016,
        captions=("KG",),
    ),
    GrammarSpec(
        name="kg_2016_foreign",
        country="KG",
        description="Kyrgyzstan since 2016, foreign residents, black on yellow: NN NNNN L (uncertain)",
        patterns=("NN NNNN L",),
        letters=LATIN,
        region_group=0,
        regions=frozenset(code for code, _ in KG_REGIONS_2016),
        region_names=KG_REGIONS_2016,
        certain=False,
        captions=("KG",),
    ),
    GrammarSpec(
        name="kg_1994",
        country="KG",
        description="Kyrgyzstan 1994-2016: L NNNN LL, the first letter is the region",
        patterns=("L NNNN LL",),
        letters=LATIN,
        region_group=0,
        regions=None,  # the full letter table is not known; B/E and C/S are (DOMAIN.md)
        region_names=(("B", "Bishkek"), ("E", "Bishkek"), ("C", "Chui"), ("S", "Chui")),
    ),
    GrammarSpec(
        name="kz_2012",
        country="KZ",
        description="Kazakhstan since 2012: NNN LLL NN, region code 01-20 on the right",
        patterns=("NNN LLL NN",),
        letters=LATIN,
        region_group=2,
        regions=frozenset(code for code, _ in KZ_REGIONS),
        region_names=KZ_REGIONS,
        captions=("KZ",),
    ),
    GrammarSpec(
        name="ru_1993",
        country="RU",
        description="Russia (GOST R 50577): L NNN LL NN(N) with the 12 Cyrillic-twin letters",
        patterns=("L NNN LL NN", "L NNN LL NNN"),
        letters=CYRILLIC_TWINS,
        region_group=3,
        regions=RU_REGIONS,
        captions=("RUS",),
    ),
    GrammarSpec(
        name="us_generic",
        country="US",
        description=(
            "United States, any state: 5-8 letters/digits; states do not issue the letter O "
            "(read as zero). Off unless asked for: it fits almost any short read"
        ),
        patterns=("AAAAA", "AAAAAA", "AAAAAAA", "AAAAAAAA"),
        letters=LATIN.replace("O", ""),
    ),
)

#: Countries :func:`plates.grammars.parse_plate` tries when the caller names none (the US
#: grammar is for the openalpr benchmark and fits too much to be on by default).
DEFAULT_COUNTRIES: tuple[str, ...] = ("KG", "KZ", "RU")

#: Groups of characters OCR confuses on plates (DOMAIN.md). Order matters: the first member
#: that a position allows is the one a confusable maps to (digit 0 in a letter slot -> O).
CONFUSABLE_GROUPS: tuple[str, ...] = ("0ODQ", "1IL", "8B", "5S", "2Z", "6G")

#: Cyrillic letters that look like Latin ones (plates in RU/KZ/KG use the Latin twin).
CYRILLIC_TO_LATIN: dict[str, str] = {
    "А": "A",
    "В": "B",
    "Е": "E",
    "К": "K",
    "М": "M",
    "Н": "H",
    "О": "O",
    "Р": "P",
    "С": "C",
    "Т": "T",
    "У": "Y",
    "Х": "X",
    "І": "I",
}
