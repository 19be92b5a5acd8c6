"""Render a :class:`~notices.document.NoticeContent` as an A4 PDF (reportlab).

Cyrillic needs a TrueType font with Cyrillic glyphs: DejaVu (free licence, Debian package
``fonts-dejavu-core``) is looked up in the usual system folders, or in ``SAFECITY_FONT_DIR``;
nothing is downloaded. The output is byte-for-byte reproducible for the same content
(reportlab's invariant mode: no creation time, fixed document id), so its SHA-256 identifies it.
The QR code is drawn as vector squares (segno computes the matrix), sharp at any print size.
"""

from __future__ import annotations

import io
import os
from functools import lru_cache
from pathlib import Path

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from notices.document import NoticeContent, money
from notices.errors import NoticeConfigError
from notices.payref import grouped

FONT_DIR_ENV = "SAFECITY_FONT_DIR"
_FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/local/share/fonts",
    "/Library/Fonts",
)
_FONTS = {"N": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "M": "DejaVuSansMono.ttf"}


@lru_cache(maxsize=4)
def _register_fonts(font_dir: str | None) -> dict[str, str]:
    dirs = [font_dir] if font_dir else list(_FONT_DIRS)
    for folder in dirs:
        paths = {k: Path(folder) / name for k, name in _FONTS.items()}
        if all(p.is_file() for p in paths.values()):
            names = {}
            for k, p in paths.items():
                name = f"SC-{p.stem}"
                if name not in pdfmetrics.getRegisteredFontNames():
                    pdfmetrics.registerFont(TTFont(name, str(p)))
                names[k] = name
            return names
    raise NoticeConfigError(
        f"no DejaVu fonts ({', '.join(_FONTS.values())}) in {', '.join(dirs)}: install the Debian package "
        f"fonts-dejavu-core or point {FONT_DIR_ENV} at a folder with them (notices need Cyrillic glyphs)"
    )


def fonts() -> dict[str, str]:
    """Registered font names: ``N`` regular, ``B`` bold, ``M`` monospace."""
    return _register_fonts(os.environ.get(FONT_DIR_ENV) or None)


def _fmt_local(c: NoticeContent, when) -> str:  # noqa: ANN001 - datetime
    local = c.local(when)
    offset = local.utcoffset()
    hours = int(offset.total_seconds() // 3600) if offset is not None else 0
    return f"{local:%d.%m.%Y %H:%M:%S} ({c.timezone}, UTC{hours:+d})"


def _fmt_utc(when) -> str:  # noqa: ANN001 - datetime
    import datetime as dt

    return f"{when.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC"


class _Writer:
    """A top-down text cursor on one page."""

    def __init__(self, canvas: Canvas, f: dict[str, str], x: float, y: float, width: float) -> None:
        self.c, self.f, self.x, self.y, self.width = canvas, f, x, y, width

    def line(self, text: str, font: str = "N", size: float = 9.5, indent: float = 0.0, gap: float = 1.3) -> None:
        for part in simpleSplit(text, self.f[font], size, self.width - indent) or [""]:
            self.c.setFont(self.f[font], size)
            self.c.drawString(self.x + indent, self.y, part)
            self.y -= size * gap

    def field(self, label: str, value: str | tuple[str, ...], label_w: float = 52 * mm, size: float = 9.5) -> None:
        self.c.setFont(self.f["B"], size - 0.5)
        top = self.y
        for part in simpleSplit(label, self.f["B"], size - 0.5, label_w - 2 * mm):
            self.c.drawString(self.x, self.y, part)
            self.y -= size * 1.25
        label_bottom = self.y
        self.y = top
        for text in (value,) if isinstance(value, str) else value:
            self.line(text, "N", size, indent=label_w, gap=1.25)
        self.y = min(self.y, label_bottom) - 1.2 * mm


def render_notice_pdf(content: NoticeContent) -> bytes:
    """The notice as PDF bytes (one A4 page; reproducible for the same content)."""
    f = fonts()
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
    c.setTitle(f"Уведомление № {content.number}")
    c.setAuthor(content.authority.name_ru)
    c.setSubject(f"violation {content.violation_id}")
    page_w, page_h = A4
    left, width = 15 * mm, page_w - 30 * mm
    w = _Writer(c, f, left, page_h - 16 * mm, width)

    w.line(content.authority.name_ru, "B", 10)
    w.line(content.authority.name_ky, "N", 9)
    w.line(f"{content.authority.system_ru} / {content.authority.system_ky}", "N", 8.5)
    w.y -= 2 * mm
    w.line(f"УВЕДОМЛЕНИЕ О НАРУШЕНИИ ПРАВИЛ ДОРОЖНОГО ДВИЖЕНИЯ № {content.number}", "B", 12)
    w.line(f"Жол кыймылынын эрежелерин бузуу жөнүндө билдирме № {content.number}", "B", 10)
    w.line(f"Дата вынесения / Чыгарылган күнү: {_fmt_local(content, content.issued_at)}; {_fmt_utc(content.issued_at)}", "N", 8.5)
    w.y -= 1 * mm

    # evidence photos: the offence frame, and the plate crop beside it when there is one
    photos = list(content.photos)
    if photos:
        main = ImageReader(io.BytesIO(photos[0].jpeg))
        iw, ih = main.getSize()
        side = 48 * mm if len(photos) > 1 else 0.0
        box_w = width - side - (3 * mm if side else 0)
        box_h = min(78 * mm, box_w * ih / iw)
        draw_w = box_h * iw / ih
        top = w.y + 2 * mm
        c.drawImage(main, left, top - box_h - 2 * mm, draw_w, box_h)
        c.setFont(f["N"], 7)
        c.drawString(left, top - box_h - 5.5 * mm, photos[0].caption)
        if side:
            y_side = top - 2 * mm
            for extra in photos[1:3]:
                img = ImageReader(io.BytesIO(extra.jpeg))
                ew, eh = img.getSize()
                h = min(30 * mm, side * eh / ew)
                c.drawImage(img, left + box_w + 3 * mm, y_side - h, h * ew / eh, h)
                c.setFont(f["N"], 7)
                c.drawString(left + box_w + 3 * mm, y_side - h - 3.5 * mm, extra.caption)
                y_side -= h + 8 * mm
        w.y = top - box_h - 12 * mm

    ru, ky = content.type_label
    w.field("Нарушение / Бузуу", f"{ru} / {ky}")
    w.field("Гос. номер / Мамлекеттик номери", content.plate, size=11)
    place = content.place + (f"; координаты {content.coordinates}" if content.coordinates else "")
    w.field("Место / Орду", f"{place} (камера {content.camera_id})")
    w.field("Время / Убакыт", f"{_fmt_local(content, content.offence_time)}; {_fmt_utc(content.offence_time)}")
    if content.measured:
        w.field("Измерено / Өлчөнгөн", content.measured)
    w.field("Статья / Берене", content.article)
    w.field("Штраф / Айып пул", f"{money(content.amount)} {content.currency} (сом)", size=11)
    w.field(
        f"Скидка {content.discount_percent:g} % / Арзандатуу",
        f"{money(content.discounted_amount)} {content.currency} при оплате до {content.discount_until:%d.%m.%Y} включительно. "
        + content.discount_note,
    )
    w.field("Основание суммы / Негиз", f"{content.fine_source} (таблица штрафов {content.fines_table_version})", size=8)
    w.field("Инспектор / Инспектор", f"{content.officer_id}: решение подписано электронной подписью в журнале обмена АИС", size=8.5)

    # payment block: QR left, details right
    qr = segno.make_qr(content.qr_payload(), error="m")
    modules = qr.symbol_size(scale=1, border=4)[0]
    qr_size = 42 * mm
    cell = qr_size / modules
    digests = content.evidence_digests[:12]
    footer_top = 10 * mm + len(digests) * 2.8 * mm + 4 * mm
    qr_top = w.y - 1 * mm
    if qr_top - qr_size - 3 * mm < footer_top:  # long texts: payment block and footer on a second page
        c.showPage()
        qr_top = page_h - 16 * mm
    c.setFillColorRGB(0, 0, 0)
    for row_no, row in enumerate(qr.matrix_iter(scale=1, border=4)):
        for col_no, dark in enumerate(row):
            if dark:
                c.rect(left + col_no * cell, qr_top - (row_no + 1) * cell, cell, cell, stroke=0, fill=1)
    pay = _Writer(c, f, left + qr_size + 5 * mm, qr_top - 4 * mm, width - qr_size - 5 * mm)
    pay.line("Оплата / Төлөө", "B", 10)
    pay.line(f"Платёжная ссылка / Төлөм шилтемеси: {grouped(content.payment_reference)}", "B", 9.5)
    pay.line(content.payment.recipient, "N", 8.5)
    pay.line(f"Счёт: {content.payment.account}; банк: {content.payment.bank}; БИК: {content.payment.bic}", "N", 8.5)
    pay.line(f"Оплатить или обжаловать: {content.payment.portal_url}", "N", 8.5)
    pay.line("Отсканируйте QR-код в банковском приложении / QR-кодду банк тиркемесинде скандаңыз", "N", 8)

    # footer: evidence digests, so the recipient can check the files the case rests on
    fy = footer_top
    c.setFont(f["B"], 7)
    c.drawString(left, fy, "Доказательства (SHA-256) / Далилдер:")
    fy -= 3.2 * mm
    c.setFont(f["M"], 6)
    for kind, digest in digests:
        c.drawString(left, fy, f"{kind:<14} {digest}")
        fy -= 2.8 * mm
    c.setFont(f["N"], 6)
    c.drawString(left, 6 * mm, f"Дело {content.violation_id}. Документ сформирован автоматически АИС «Безопасный город».")
    c.showPage()
    c.save()
    return buf.getvalue()
