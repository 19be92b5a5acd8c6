"""notices.yaml and the font lookup: defaults, invalid fields named, missing fonts explained."""

from __future__ import annotations

import pytest

from notices.config import load_notice_settings
from notices.errors import NoticeConfigError


def test_defaults_without_a_file(tmp_path):
    """No notices.yaml: Bishkek time, outbox delivery, stores under the home folder."""
    cfg = load_notice_settings(tmp_path)
    assert (cfg.timezone, cfg.delivery.adapter) == ("Asia/Bishkek", "outbox")
    assert cfg.resolved_store_dir(tmp_path) == tmp_path / "notices"
    assert cfg.resolved_outbox_dir(tmp_path) == tmp_path / "outbox"


def test_file_values_and_environment_override(tmp_path, monkeypatch):
    """Values from notices.yaml apply; SAFECITY_EVIDENCE_ROOT overrides the configured evidence root."""
    (tmp_path / "notices.yaml").write_text(
        "evidence_root: /srv/evidence\npayment:\n  account: '40101810'\ndelivery:\n  adapter: portal\n  portal: {timeout_s: 2.5}\n"
    )
    cfg = load_notice_settings(tmp_path)
    assert (cfg.payment.account, cfg.delivery.adapter, cfg.delivery.portal.timeout_s) == ("40101810", "portal", 2.5)
    assert str(cfg.resolved_evidence_root()) == "/srv/evidence"
    monkeypatch.setenv("SAFECITY_EVIDENCE_ROOT", str(tmp_path / "ev"))
    assert cfg.resolved_evidence_root() == tmp_path / "ev"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("payment:\n  acount: x\n", "payment.acount: Extra inputs are not permitted"),
        ("delivery:\n  portal: {timeout_s: 0}\n", "delivery.portal.timeout_s"),
        ("payment: {reference_prefix: 'S1'}\n", "payment.reference_prefix"),
        ("- a list\n", "top level"),
        ("payment: [unclosed\n", "not valid YAML"),
    ],
)
def test_invalid_settings_name_the_field(tmp_path, text, message):
    """A misspelt field, an out-of-range number, a bad prefix, a non-mapping or broken YAML is refused by name."""
    (tmp_path / "notices.yaml").write_text(text)
    with pytest.raises(NoticeConfigError, match=message.replace("[", r"\[")):
        load_notice_settings(tmp_path)


def test_missing_fonts_name_the_package(tmp_path, monkeypatch):
    """Without DejaVu fonts the error names the Debian package and the environment variable."""
    from notices.pdf import fonts

    monkeypatch.setenv("SAFECITY_FONT_DIR", str(tmp_path))
    with pytest.raises(NoticeConfigError, match="fonts-dejavu-core.*SAFECITY_FONT_DIR"):
        fonts()
