"""Notices with evidence and notice PDFs in S3-compatible storage (a real moto server process)."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from notices.errors import EvidenceIntegrityError
from notices.service import issue_notice, notice_pdf
from notice_testdata import DECIDED_AT, build_case
from s3_helpers import running_s3_server
from store.schema import EvidenceRow

KEYS = {"access_key_id": "safecity-test", "secret_access_key": "safecity-test-secret"}


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """``python -m moto.server`` on a free local port, in its own process."""
    with running_s3_server(tmp_path_factory.mktemp("moto")) as server:
        yield server.endpoint_url


def _store(endpoint, bucket, prefix):
    from store.evidence_s3 import S3EvidenceStore

    return S3EvidenceStore(bucket, prefix, endpoint_url=endpoint, region_name="us-east-1", **KEYS)


def test_evidence_and_pdf_in_s3(tmp_path, s3_endpoint):
    """The photo is read from S3 and checked; the PDF is stored in S3 write-once and read back by notice_pdf."""
    import boto3

    bucket = f"ev-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id=KEYS["access_key_id"],
                 aws_secret_access_key=KEYS["secret_access_key"]).create_bucket(Bucket=bucket)
    case = build_case(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}")
    evidence, notices = _store(s3_endpoint, bucket, "evidence"), _store(s3_endpoint, bucket, "notices")
    with case.sessions() as s:
        for row in s.query(EvidenceRow).filter_by(violation_id=case.violation_id):
            assert evidence.put(row.path, (case.evidence_root / row.path).read_bytes(), row.kind).sha256 == row.sha256
    with case.sessions.begin() as s:
        rec = issue_notice(s, case.violation_id, decided_by="officer-17", decided_at=DECIDED_AT, home=case.home,
                           evidence_root=evidence, store_dir=notices)
    with case.sessions() as s:
        pdf = notice_pdf(s, rec.id, store_dir=notices)
    assert hashlib.sha256(pdf).hexdigest() == rec.pdf_sha256 and pdf.startswith(b"%PDF-")
    assert not (tmp_path / "notice-store").exists()  # nothing went to a local folder
    with case.sessions() as s, pytest.raises(EvidenceIntegrityError, match="cannot be read"):
        notice_pdf(s, rec.id, store_dir=_store(s3_endpoint, bucket, "elsewhere"))
