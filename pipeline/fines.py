"""The versioned fines table: which amount applies to a violation on the date of the decision.

Fines are statute-derived numbers, so they live in data (``pipeline/data/fines-kg.yaml``) with
their source and effective dates, never in code. The amount is chosen when the officer decides
(issue date), not when the offence was detected.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from safecity.errors import ConfigError, PermanentError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Discount(_Strict):
    """The reduced amount for early payment, and the period it runs for.

    ``counted_from`` says which day starts the period: the law counts from the offender's
    receipt of the notice; the date printed on a notice is counted from the notice's own date
    (the earliest possible receipt), so the printed date never promises less than the law.
    """

    percent: float = Field(gt=0, lt=100)
    within_days: int = Field(gt=0, description="calendar days")
    counted_from: Literal["notice_received", "notice_date"] = "notice_received"
    source: str = Field(min_length=1)


class FineEntry(_Strict):
    type: str
    article: str = Field(min_length=1)
    amount_som: int = Field(gt=0)
    effective_from: dt.date
    effective_to: dt.date | None = None  # exclusive
    excess_kmh_from: float | None = Field(default=None, ge=0)  # speeding bands, inclusive
    excess_kmh_to: float | None = Field(default=None, gt=0)  # exclusive
    source: str = Field(min_length=1)

    def applies(self, vtype: str, on: dt.date, excess_kmh: float | None) -> bool:
        if vtype != self.type or on < self.effective_from or (self.effective_to and on >= self.effective_to):
            return False
        if self.excess_kmh_from is None and self.excess_kmh_to is None:
            return True
        if excess_kmh is None:
            return False
        lo = self.excess_kmh_from or 0.0
        return excess_kmh >= lo and (self.excess_kmh_to is None or excess_kmh < self.excess_kmh_to)


class FinesTable(_Strict):
    schema_version: int = 1
    version: str = Field(min_length=1, description="release of the table, recorded on every notice")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    calculated_indicator_som: int = Field(gt=0)
    discount: Discount
    entries: list[FineEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_overlaps(self) -> "FinesTable":
        probe_days = sorted({e.effective_from for e in self.entries} | {e.effective_to for e in self.entries if e.effective_to})
        for vtype in {e.type for e in self.entries}:
            for day in probe_days:
                for excess in sorted({e.excess_kmh_from or 0.0 for e in self.entries if e.type == vtype} | {0.0}):
                    hits = [e for e in self.entries if e.applies(vtype, day, excess)]
                    if len(hits) > 1:
                        raise ValueError(
                            f"entries overlap for {vtype} on {day} at excess {excess} km/h: "
                            + ", ".join(h.article for h in hits)
                        )
        return self


@dataclass(frozen=True)
class Fine:
    """The fine for one decided case.

    Attributes:
        amount_som: full amount.
        discounted_som: amount when paid within the discount period.
        discount_until: last day of the discount period (``notice_received_on`` + the
            configured days).
        currency: ISO 4217 code of the table.
        discount_percent: the reduction, percent.
        effective_from, effective_to: the entry's validity (``effective_to`` exclusive).
        table_version: the table release the entry comes from.
        discount_source: the statute behind the discount.
    """

    type: str
    article: str
    amount_som: int
    discounted_som: int
    discount_until: dt.date
    source: str
    currency: str = "KGS"
    discount_percent: float = 50.0
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    table_version: str = ""
    discount_source: str = ""


def load_fines(path: Path | None = None) -> FinesTable:
    """The fines table from ``path`` (default: the packaged Kyrgyz table).

    Raises:
        ConfigError: the file is unreadable or invalid, naming the problem.
    """
    where = str(path) if path else "pipeline/data/fines-kg.yaml"
    try:
        text = Path(path).read_text(encoding="utf-8") if path else resources.files("pipeline").joinpath("data/fines-kg.yaml").read_text(encoding="utf-8")
        return FinesTable.model_validate(yaml.safe_load(text))
    except OSError as exc:
        raise ConfigError(where, [f"cannot read file: {exc}"]) from exc
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(where, [str(exc)]) from exc


def fine_for(
    table: FinesTable, vtype: str, decided_on: dt.date, notice_received_on: dt.date, excess_kmh: float | None = None
) -> Fine:
    """The fine in force on ``decided_on`` for a violation of ``vtype``.

    Args:
        excess_kmh: measured speed minus the limit, for speeding bands.
        notice_received_on: the day the offender received the notice (starts the discount period).

    Raises:
        PermanentError: no entry applies (the table must be completed; no amount is guessed).
    """
    hits = [e for e in table.entries if e.applies(vtype, decided_on, excess_kmh)]
    if not hits:
        band = f" at +{excess_kmh:.0f} km/h" if excess_kmh is not None else ""
        raise PermanentError(f"no fine configured for {vtype}{band} on {decided_on.isoformat()}")
    e = hits[0]
    discounted = round(e.amount_som * (100 - table.discount.percent) / 100)
    return Fine(
        type=e.type, article=e.article, amount_som=e.amount_som, discounted_som=discounted,
        discount_until=notice_received_on + dt.timedelta(days=table.discount.within_days), source=e.source,
        currency=table.currency, discount_percent=table.discount.percent, effective_from=e.effective_from,
        effective_to=e.effective_to, table_version=table.version, discount_source=table.discount.source,
    )
