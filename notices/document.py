"""What a notice says: the content dataclass, its Russian/Kyrgyz labels and the QR payload (pure).

The renderer (:mod:`notices.pdf`) only lays out a :class:`NoticeContent`; everything a notice
states is decided here from the violation, the fine and the settings, so it can be tested
without a PDF.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from notices.config import Authority, Payment

# Russian and Kyrgyz names of the violation types (police-facing texts; Kyrgyz to be checked
# by a native speaker before production use).
TYPE_LABELS: dict[str, tuple[str, str]] = {
    "speeding": ("Превышение установленной скорости движения", "Белгиленген ылдамдыктан ашуу"),
    "red_light": ("Проезд на запрещающий сигнал светофора", "Светофордун тыюу салуучу белгисинде өтүү"),
    "stop_line": ("Остановка за стоп-линией при запрещающем сигнале", "Тыюу салуучу белгиде стоп-сызыктан ары токтоо"),
    "solid_line_crossing": ("Пересечение сплошной линии разметки", "Туташ белги сызыгын кесип өтүү"),
    "wrong_way": ("Выезд на полосу встречного движения", "Каршы тилкеге чыгуу"),
    "no_stopping": ("Остановка в зоне действия знака «Остановка запрещена»", "«Токтоого тыюу салынат» белгисинин аймагында токтоо"),
    "oncoming_lane": ("Выезд на полосу встречного движения", "Каршы тилкеге чыгуу"),
    "bus_lane": ("Движение по полосе для маршрутных транспортных средств", "Коомдук транспорт тилкеси менен жүрүү"),
    "pedestrian_yield": ("Непредоставление преимущества пешеходу на пешеходном переходе", "Жөө жүрүүчүлөр өткөөлүндө жөө жүрүүчүгө жол бербөө"),
    "u_turn": ("Разворот в запрещённом месте", "Тыюу салынган жерде артка бурулуу"),
    "left_turn": ("Поворот налево в запрещённом месте", "Тыюу салынган жерде солго бурулуу"),
}

SIGNAL_RU = {"red": "красный", "amber": "жёлтый", "green": "зелёный", "red_amber": "красный с жёлтым"}


@dataclass(frozen=True)
class Photo:
    """A JPEG from the evidence, with its caption and its recorded SHA-256."""

    caption: str
    jpeg: bytes
    sha256: str


@dataclass(frozen=True)
class NoticeContent:
    """Everything printed on one notice.

    Times are aware datetimes; ``timezone`` names the local zone (Asia/Bishkek). Amounts are
    whole units of ``currency``.
    """

    number: str
    payment_reference: str
    violation_id: str
    violation_type: str
    plate: str
    camera_id: str
    place: str
    coordinates: str | None
    offence_time: dt.datetime
    issued_at: dt.datetime
    timezone: str
    measured: tuple[str, ...]
    article: str
    amount: int
    discounted_amount: int
    discount_percent: float
    discount_until: dt.date
    discount_note: str
    currency: str
    fine_source: str
    fines_table_version: str
    officer_id: str
    authority: Authority
    payment: Payment
    photos: tuple[Photo, ...]
    evidence_digests: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("offence_time", "issued_at"):
            value = getattr(self, name)
            if value.tzinfo is None:
                raise ValueError(f"notice {self.number}: {name} must be timezone-aware, got {value!r}")
        if not self.plate:
            raise ValueError(f"notice {self.number}: a notice needs the vehicle's plate")
        if self.amount <= 0 or not 0 < self.discounted_amount <= self.amount:
            raise ValueError(f"notice {self.number}: amounts {self.amount} / {self.discounted_amount} are inconsistent")

    @property
    def type_label(self) -> tuple[str, str]:
        return TYPE_LABELS.get(self.violation_type, (self.violation_type, self.violation_type))

    def local(self, when: dt.datetime) -> dt.datetime:
        return when.astimezone(ZoneInfo(self.timezone))

    def qr_payload(self) -> str:
        """The payment QR code's text: ``ST00012``-style ``key=value`` fields split by ``|``
        (the layout regional banking apps read; GOST R 56042-2014), amounts in tyiyn (1/100).

        The RF reference identifies the notice: the treasury applies the discount by the
        reference's payment date, so the full amount is encoded and the discount is stated.
        """
        fields = [
            "ST00012",
            f"Name={self.payment.recipient}",
            f"PersonalAcc={self.payment.account}",
            f"BankName={self.payment.bank}",
            f"BIC={self.payment.bic}",
            f"Sum={self.amount * 100}",
            f"Purpose=Штраф по уведомлению № {self.number}",
            f"PaymentRef={self.payment_reference}",
            f"DiscountSum={self.discounted_amount * 100}",
            f"DiscountUntil={self.discount_until.isoformat()}",
            f"Currency={self.currency}",
        ]
        return "|".join(f.replace("|", "/") if k else f for k, f in enumerate(fields))


def money(amount: int) -> str:
    """``7500`` -> ``7 500`` (space-grouped thousands, as printed in the region)."""
    return f"{amount:,}".replace(",", " ")


def measured_lines(
    violation_type: str, speed_kmh: float | None, limit_kmh: float | None, signal_state: str | None, signal_source: str | None
) -> tuple[str, ...]:
    """The measured values that justify the case, in Russian, one line each."""
    lines: list[str] = []
    if speed_kmh is not None and limit_kmh is not None and violation_type == "speeding":
        lines.append(
            f"Скорость {speed_kmh:.0f} км/ч при ограничении {limit_kmh:.0f} км/ч (превышение {speed_kmh - limit_kmh:.0f} км/ч)"
        )
    elif speed_kmh is not None:
        lines.append(f"Скорость {speed_kmh:.0f} км/ч")
    if signal_state:
        state = SIGNAL_RU.get(signal_state, signal_state)
        source = {"controller": "контроллер светофора", "plan": "план фаз контроллера", "vision": "видеоанализ"}.get(
            signal_source or "", signal_source or "не указан"
        )
        lines.append(f"Сигнал светофора: {state} (источник: {source})")
    return tuple(lines)
