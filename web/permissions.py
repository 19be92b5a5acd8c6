"""Which roles may use each route, by route name: one table, enforced on the server.

Every route of the application must appear here or in :data:`PUBLIC`; the authorisation
dependency refuses a route it does not find (deny by default), and ``tests/web`` walks the
app's route table so a route added without an entry fails the suite.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from web.models import WEB_ROLES

REVIEW = frozenset({"reviewer", "supervisor"})
SUPERVISOR = frozenset({"supervisor"})
OPERATOR = frozenset({"operator"})
REGULATOR = frozenset({"regulator"})
EVERYONE = frozenset(WEB_ROLES)

#: Routes anyone may call, logged in or not.
PUBLIC = frozenset({"login_form", "login", "healthz", "static"})

PERMISSIONS: Mapping[str, frozenset[str]] = MappingProxyType({
    "home": EVERYONE,
    "logout": EVERYONE,
    "api_me": EVERYONE,
    # police review
    "review_queue": REVIEW,
    "api_review_queue": REVIEW,
    "case_page": REVIEW,
    "api_case": REVIEW,
    "case_confirm": REVIEW,
    "case_reject": REVIEW,
    "case_correct_plate": REVIEW,
    "case_issue_notice": REVIEW,
    "case_notice_pdf": REVIEW,
    "evidence_file": REVIEW,
    "supervision": SUPERVISOR,
    # operator
    "ops_cameras": OPERATOR,
    "ops_camera_thumbnail": OPERATOR,
    "ops_workers": OPERATOR,
    "ops_alerts": OPERATOR,
    "api_ops_status": OPERATOR,
    # regulator
    "audit_log": REGULATOR,
    "audit_entry": REGULATOR,
    "audit_verify": REGULATOR,
    "api_audit_verify": REGULATOR,
    "audit_checkpoints": REGULATOR,
    "audit_access_log": REGULATOR,
    "audit_export": REGULATOR,
    # service accounts: the data holder sees who read its data; the backup centre pulls the log
    "api_access_log": frozenset({"regulator", "data_holder"}),
    "api_exchange_head": frozenset({"regulator", "backup"}),
    "api_exchange_records": frozenset({"regulator", "backup"}),
})

#: Where each role lands after logging in.
HOME_PAGES: Mapping[str, str] = MappingProxyType({
    "reviewer": "/review", "supervisor": "/review", "operator": "/ops/cameras", "regulator": "/audit/log",
    "data_holder": "/api/me", "backup": "/api/me",
})


def allowed(route_name: str, role: str) -> bool:
    """True when ``role`` may use the route (False for a route without an entry)."""
    return role in PERMISSIONS.get(route_name, frozenset())
