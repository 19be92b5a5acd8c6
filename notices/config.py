"""Notice settings (``notices.yaml`` in the home folder; every field has a default).

Statute-derived numbers (amounts, the discount and its period) are not here: they live in the
versioned fines table (``pipeline/data/fines-kg.yaml``) with their sources. This file holds the
issuing authority's texts, the payment details printed in the QR code, where notice PDFs are
stored, and how they are delivered.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from notices.errors import NoticeConfigError

SETTINGS_FILE = "notices.yaml"
EVIDENCE_ROOT_ENV = "SAFECITY_EVIDENCE_ROOT"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Authority(_Strict):
    """Who issues the notice (printed in its header), Russian and Kyrgyz."""

    name_ru: str = "Патрульная милиция МВД Кыргызской Республики"
    name_ky: str = "Кыргыз Республикасынын ИИМ патрулдук милициясы"
    system_ru: str = "АИС «Безопасный город», г. Бишкек"
    system_ky: str = "«Коопсуз шаар» АМС, Бишкек ш."


class Payment(_Strict):
    """Payment details printed on the notice and encoded in its QR code.

    The defaults are placeholders ("to configure"): the receiving account of the state treasury
    must come from the deployment, never from code.
    """

    recipient: str = Field(default="Получатель: казначейство (to configure)", min_length=1)
    account: str = Field(default="to configure", min_length=1)
    bank: str = Field(default="to configure", min_length=1)
    bic: str = Field(default="to configure", min_length=1)
    portal_url: str = Field(default="https://tunduk.gov.kg", description="where the offender can pay or appeal")
    reference_prefix: str = Field(default="SC", pattern=r"^[A-Z]{1,4}$", description="letters before the year in the RF reference body")


class PortalSettings(_Strict):
    """The state-services portal API (the ``portal`` delivery adapter)."""

    base_url: str = "http://127.0.0.1:8090"
    api_key_env: str = Field(default="SAFECITY_PORTAL_API_KEY", description="environment variable with the API key")
    timeout_s: float = Field(default=5.0, gt=0, le=120, description="connect/read timeout of one request, s")
    attempts: int = Field(default=3, ge=1, le=10, description="tries within one delivery run")
    base_delay_s: float = Field(default=0.5, ge=0, le=60, description="first backoff between tries, s; doubles")
    max_delay_s: float = Field(default=5.0, ge=0, le=600)


class DeliverySettings(_Strict):
    """How notices leave the system."""

    adapter: str = Field(default="outbox", description="delivery adapter name (outbox, portal)")
    outbox_dir: Path | None = Field(default=None, description="outbox folder; default <home>/outbox")
    retry_base_s: float = Field(default=60.0, gt=0, description="wait after the first failed run, s; doubles per failure")
    retry_max_s: float = Field(default=6 * 3600.0, gt=0, description="cap on the wait between runs, s")
    portal: PortalSettings = PortalSettings()


class NoticeSettings(_Strict):
    """Everything configurable about notices."""

    timezone: str = Field(default="Asia/Bishkek", description="local time printed beside UTC; the decision's local date picks the fine")
    authority: Authority = Authority()
    payment: Payment = Payment()
    store_dir: Path | None = Field(default=None, description="where notice PDFs are kept (write-once); default <home>/notices")
    evidence_root: Path | None = Field(
        default=None, description="root of the violation evidence store (the --out/evidence folder of `safecity process`); "
        f"${EVIDENCE_ROOT_ENV} overrides",
    )
    delivery: DeliverySettings = DeliverySettings()

    def resolved_store_dir(self, home_dir: Path) -> Path:
        return Path(self.store_dir) if self.store_dir else Path(home_dir) / "notices"

    def resolved_outbox_dir(self, home_dir: Path) -> Path:
        return Path(self.delivery.outbox_dir) if self.delivery.outbox_dir else Path(home_dir) / "outbox"

    def resolved_evidence_root(self) -> Path | None:
        env = os.environ.get(EVIDENCE_ROOT_ENV)
        if env:
            return Path(env)
        return Path(self.evidence_root) if self.evidence_root else None


def load_notice_settings(home_dir: Path) -> NoticeSettings:
    """``<home_dir>/notices.yaml`` if it exists, else the defaults.

    Raises:
        NoticeConfigError: the file is unreadable or invalid (naming each bad field).
    """
    path = Path(home_dir) / SETTINGS_FILE
    if not path.exists():
        return NoticeSettings()
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(raw, dict):
            raise NoticeConfigError(f"{path}: (top level): expected a mapping")
        return NoticeSettings.model_validate(raw)
    except OSError as exc:
        raise NoticeConfigError(f"{path}: cannot read file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise NoticeConfigError(f"{path}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in exc.errors()]
        raise NoticeConfigError(f"{path}: invalid notice settings:\n  " + "\n  ".join(problems)) from exc


DeliveryState = Literal["pending", "delivered", "needs_attention"]
