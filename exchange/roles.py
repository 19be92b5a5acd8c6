"""Which organisation plays each role of the regulation, and the log's settings (``roles.yaml``).

Government Resolution No. 563 of 4 Dec 2018 (amended by No. 54 of 15 Feb 2019) names five
participants of the "Safe City" AIS; the organisations behind them change (the operator moved
from Infocom to Kyzmat in 2025), so the mapping is configuration, never code.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from exchange.errors import HomeError
from exchange.verifier import ROLES

Role = Literal["ais_owner", "ais_user", "data_holder", "backup_centre", "info_provider"]


class Organisation(BaseModel):
    """The organisation that plays one role."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    organisation: str = Field(min_length=1, description="legal name of the organisation")
    since: dt.date | None = Field(default=None, description="date it took the role, if known")
    note: str = ""


class LogSettings(BaseModel):
    """Exchange-log settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    checkpoint_every_entries: int = Field(default=64, ge=1, le=1_000_000, description="a signed checkpoint of the chain head after every N entries")
    personal_data_retention_days: int = Field(
        default=365, ge=1, le=36_500,
        description="days an entry's personal payload is kept before the purge tombstones it "
        "(placeholder: the regulation's retention clause was not available; Law No. 58 asks to keep "
        "personal data only as long as the purpose needs)",
    )
    replication_batch_entries: int = Field(default=500, ge=1, le=100_000, description="entries per replication batch to the backup centre")


def _default_roles() -> dict[str, Organisation]:
    return {
        "ais_owner": Organisation(organisation='State enterprise "Kyzmat" (e-government operator)', since=dt.date(2025, 1, 1), note="operator changed from Infocom to Kyzmat in 2025; day not known"),
        "ais_user": Organisation(organisation="Patrol police, Ministry of Internal Affairs (MVD)"),
        "data_holder": Organisation(organisation="Vehicle registration authority (registration of population and vehicles)"),
        "backup_centre": Organisation(organisation="Operator of the reserve data-processing centre"),
        "info_provider": Organisation(organisation="Camera complex vendor (operator of the camera complexes)"),
    }


class RolesConfig(BaseModel):
    """Contents of ``roles.yaml``: every role of the regulation mapped to an organisation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: dict[Role, Organisation] = Field(default_factory=_default_roles)
    log: LogSettings = LogSettings()

    @model_validator(mode="after")
    def _every_role(self) -> "RolesConfig":
        missing = [r for r in ROLES if r not in self.roles]
        if missing:
            raise ValueError(f"every role needs an organisation; missing {missing}")
        return self


def default_roles_yaml() -> str:
    """The default ``roles.yaml`` text written by ``init_home``."""
    doc = RolesConfig().model_dump(mode="json", exclude_none=True)
    header = (
        "# Safe City: which organisation plays each role of Resolution No. 563 (2018, amended 2019),\n"
        "# and the exchange log's settings. Edit the organisations; keys live in keys/.\n"
    )
    return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def _mark_lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _mark_lines(value, (*path, key.value), out)
            out[(*path, key.value)] = key.start_mark.line + 1


def load_roles(path: Path) -> RolesConfig:
    """Read and validate ``roles.yaml``.

    Raises:
        HomeError: naming the file, each bad field with its YAML line, and the problem.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
        raw = yaml.safe_load(text) or {}
        root = yaml.compose(text)
    except (OSError, yaml.YAMLError) as exc:
        raise HomeError(f"{path}: cannot read roles file: {exc}") from exc
    if not isinstance(raw, dict):
        raise HomeError(f"{path}: top level must be a mapping")
    lines: dict[tuple[Any, ...], int] = {}
    if root is not None:
        _mark_lines(root, (), lines)
    try:
        return RolesConfig.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), None)
            where = f" (line {line})" if line else ""
            problems.append(f"{'.'.join(map(str, loc)) or '(top level)'}{where}: {err['msg'].removeprefix('Value error, ')}")
        raise HomeError(f"{path}: invalid roles file:\n  " + "\n  ".join(problems)) from exc
