"""Evidence stores: one write-once contract for the folder and the S3 backend (real S3 server)."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest
from pydantic import ValidationError

from pipeline.evidence import FolderEvidenceStore
from safecity.composition import build_evidence_store
from safecity.errors import PermanentError, TransientError
from store.evidence_backends import EVIDENCE_STORES, create_evidence_store, load_evidence_settings
from store.evidence_s3 import (
    EvidenceIntegrityError,
    EvidenceStoreError,
    EvidenceStoreUnavailable,
    S3EvidenceStore,
)



def _s3(server, bucket, **kw) -> S3EvidenceStore:
    return S3EvidenceStore(bucket, "cases/2026", endpoint_url=server.endpoint_url, region_name=server.region,
                           access_key_id=server.access_key_id, secret_access_key=server.secret_access_key, **kw)


def _read(store, key: str) -> bytes:
    if isinstance(store, FolderEvidenceStore):
        return (store.root / key).read_bytes()
    return store.get(key)


@pytest.fixture(params=["folder", "s3"])
def store(request, tmp_path):
    """Each backend in turn; the S3 one on a fresh bucket of the local S3 server."""
    if request.param == "folder":
        return FolderEvidenceStore(tmp_path / "evidence")
    server = request.getfixturevalue("s3_server")
    return _s3(server, request.getfixturevalue("s3_bucket"))


def test_put_records_sha256_of_stored_bytes(store):
    """The record carries kind, key and the SHA-256 of the bytes that can be read back."""
    rec = store.put("v1/at.jpg", b"jpeg-bytes", "frame_at")
    assert (rec.kind, rec.path, rec.sha256) == ("frame_at", "v1/at.jpg", hashlib.sha256(b"jpeg-bytes").hexdigest())
    assert _read(store, "v1/at.jpg") == b"jpeg-bytes"


def test_same_bytes_twice_is_idempotent(store):
    """A redelivered put of the same bytes returns the same record and stores nothing new."""
    assert store.put("v1/at.jpg", b"same", "frame_at") == store.put("v1/at.jpg", b"same", "frame_at")


def test_other_bytes_never_overwrite(store):
    """Other bytes under a taken key are stored beside it; the first object keeps its bytes."""
    first = store.put("v1/at.jpg", b"first", "frame_at")
    second = store.put("v1/at.jpg", b"second", "frame_at")
    digest = hashlib.sha256(b"second").hexdigest()
    assert second.path == f"v1/at.{digest[:8]}.jpg" != first.path
    assert _read(store, first.path) == b"first" and _read(store, second.path) == b"second"


@pytest.mark.parametrize("key", ["../escape.jpg", "/abs.jpg", "a/../../b.jpg"])
def test_keys_cannot_leave_the_store(store, key):
    """Absolute keys and keys with '..' are refused before anything is written."""
    with pytest.raises(ValueError, match="relative path inside"):
        store.put(key, b"x", "frame_at")


def test_s3_object_has_digest_metadata_under_prefix(s3_server, s3_bucket):
    """The object sits under the prefix with its SHA-256 as metadata and a content type."""
    _s3(s3_server, s3_bucket).put("v1/clip.mp4", b"mp4", "clip")
    head = s3_server.client().head_object(Bucket=s3_bucket, Key="cases/2026/v1/clip.mp4")
    assert head["Metadata"]["sha256"] == hashlib.sha256(b"mp4").hexdigest()
    assert head["ContentType"] == "video/mp4"


def test_s3_concurrent_puts_to_one_key_keep_every_version(s3_server, s3_bucket):
    """Eight writers racing for one key: one owns it, the rest land beside it, none is lost."""
    payloads = [f"frame-{i}".encode() for i in range(8)]
    records, errors = [], []

    def put(data):
        try:
            records.append(_s3(s3_server, s3_bucket).put("v9/at.jpg", data, "frame_at"))
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=put, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    store = _s3(s3_server, s3_bucket)
    assert sorted(store.get(r.path, r.sha256) for r in records) == sorted(payloads)
    assert sum(r.path == "v9/at.jpg" for r in records) == 1


def test_s3_head_check_fallback_keeps_write_once(s3_server, s3_bucket):
    """With conditional PUT off (servers without If-None-Match) the HEAD check still refuses overwrites."""
    store = _s3(s3_server, s3_bucket)
    store._conditional = False
    first = store.put("v1/at.jpg", b"first", "frame_at")
    assert store.put("v1/at.jpg", b"first", "frame_at") == first
    assert store.put("v1/at.jpg", b"second", "frame_at").path != first.path
    assert store.get(first.path) == b"first"


def test_s3_tampered_object_fails_verification(s3_server, s3_bucket):
    """Bytes changed behind the store's back do not match their recorded digest."""
    store = _s3(s3_server, s3_bucket)
    rec = store.put("v1/at.jpg", b"original", "frame_at")
    s3_server.client().put_object(Bucket=s3_bucket, Key="cases/2026/v1/forged.jpg", Body=b"forged",
                                  Metadata={"sha256": rec.sha256})
    with pytest.raises(EvidenceIntegrityError, match="does not match"):
        store.get("v1/forged.jpg")
    with pytest.raises(EvidenceIntegrityError):
        store.get("v1/at.jpg", sha256="0" * 64)
    with pytest.raises(FileNotFoundError, match="no such evidence object"):
        store.get("v1/none.jpg")


def test_s3_missing_bucket_is_a_permanent_error(s3_server):
    """A bucket that does not exist is named in a permanent error (no retry helps)."""
    with pytest.raises(EvidenceStoreError, match="s3://no-such-bucket-x/.*NoSuchBucket") as info:
        _s3(s3_server, "no-such-bucket-x").put("v1/at.jpg", b"x", "frame_at")
    assert isinstance(info.value, PermanentError)


def test_s3_unreachable_server_is_transient():
    """Nothing listening at the endpoint: a transient error a task may retry."""
    with socket_closed_port() as port:
        store = S3EvidenceStore("b-unreachable", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                                access_key_id="a", secret_access_key="b", connect_timeout_s=1, max_attempts=1)
        with pytest.raises(EvidenceStoreUnavailable, match="unreachable") as info:
            store.put("v1/at.jpg", b"x", "frame_at")
    assert isinstance(info.value, TransientError)


class socket_closed_port:  # noqa: N801 - a context manager used like a function
    """A local port with nothing listening on it."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        return None


def test_registry_names_and_did_you_mean(tmp_path):
    """Both backends are registered; a misspelt name gets the closest one."""
    assert set(EVIDENCE_STORES) == {"folder", "s3"}
    assert isinstance(create_evidence_store("folder", root=tmp_path), FolderEvidenceStore)
    with pytest.raises(ValueError, match=r"unknown evidence store 's4'.*did you mean 's3'"):
        create_evidence_store("s4")


def test_settings_select_s3_with_prefix(s3_server, s3_bucket, tmp_path):
    """SAFECITY_EVIDENCE_URL=s3://bucket/prefix and SAFECITY_S3_ENDPOINT pick the S3 store."""
    env = {
        "SAFECITY_EVIDENCE_URL": f"s3://{s3_bucket}/city/evidence/",
        "SAFECITY_S3_ENDPOINT": s3_server.endpoint_url,
        "SAFECITY_S3_REGION": s3_server.region,
        "SAFECITY_S3_ACCESS_KEY_ID": s3_server.access_key_id,
        "SAFECITY_S3_SECRET_ACCESS_KEY": s3_server.secret_access_key,
    }
    store = build_evidence_store(tmp_path / "unused", env)
    assert isinstance(store, S3EvidenceStore) and (store.bucket, store.prefix) == (s3_bucket, "city/evidence")
    store.put("v1/at.jpg", b"x", "frame_at")
    assert s3_server.client().get_object(Bucket=s3_bucket, Key="city/evidence/v1/at.jpg")["Body"].read() == b"x"
    assert not (tmp_path / "unused").exists()
    assert s3_server.secret_access_key not in repr(load_evidence_settings(env))


def test_settings_default_and_folder_urls(tmp_path):
    """No URL: the default folder; a path or file:// URL: that folder."""
    assert build_evidence_store(tmp_path / "a", {}).root == tmp_path / "a"
    assert build_evidence_store(tmp_path / "a", {"SAFECITY_EVIDENCE_URL": str(tmp_path / "b")}).root == tmp_path / "b"
    assert build_evidence_store(tmp_path / "a", {"SAFECITY_EVIDENCE_URL": f"file://{tmp_path}/c"}).root == tmp_path / "c"


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"SAFECITY_EVIDENCE_URL": "ftp://host/x"}, r"url\n.*scheme 'ftp'"),
        ({"SAFECITY_EVIDENCE_URL": "s3:///prefix"}, r"url\n.*no bucket"),
        ({"SAFECITY_S3_ENDPOINT": "minio:9000"}, r"s3_endpoint\n.*http\(s\)://host"),
        ({"SAFECITY_S3_SERVER_CHECKSUM": "maybe"}, r"s3_server_checksum"),
    ],
)
def test_bad_settings_name_the_field(env, error):
    """A malformed setting fails with the field it came from."""
    with pytest.raises(ValidationError, match=error):
        load_evidence_settings(env)


def test_s3_credentials_both_or_neither():
    """Half a credential pair is refused before any request."""
    with pytest.raises(ValueError, match="give both or neither"):
        S3EvidenceStore("bucket", access_key_id="only-id")


def test_read_back_and_list_a_package(store):
    """get checks the digest it is given; keys lists a package's files (not its neighbours')."""
    a = store.put("v1/at.jpg", b"at", "frame_at")
    store.put("v1/sub/clip.mp4", b"clip", "clip")
    store.put("v10/at.jpg", b"other", "frame_at")
    assert store.get(a.path, a.sha256) == b"at"
    assert store.keys("v1/") == ["v1/at.jpg", "v1/sub/clip.mp4"]
    assert store.keys("v2/") == []
    with pytest.raises(EvidenceIntegrityError, match="does not match"):
        store.get(a.path, "0" * 64)
    with pytest.raises(FileNotFoundError):
        store.get("v1/none.jpg")
    with pytest.raises(ValueError, match="relative path inside"):
        store.get("../v1/at.jpg")


def test_open_store_at_a_job_location(s3_server, s3_bucket, tmp_path):
    """A job row's evidence_root opens the same store: a folder as it is, s3:// with this
    machine's endpoint and keys (which never enter the location)."""
    from store.evidence_backends import evidence_location, open_evidence_store

    env = {"SAFECITY_S3_ENDPOINT": s3_server.endpoint_url, "SAFECITY_S3_REGION": s3_server.region,
           "SAFECITY_S3_ACCESS_KEY_ID": s3_server.access_key_id, "SAFECITY_S3_SECRET_ACCESS_KEY": s3_server.secret_access_key}
    url = evidence_location({**env, "SAFECITY_EVIDENCE_URL": f"s3://{s3_bucket}/jobs/"})
    assert url == f"s3://{s3_bucket}/jobs" and s3_server.access_key_id not in url
    s3 = open_evidence_store(url, env)
    assert isinstance(s3, S3EvidenceStore) and s3.location == url
    s3.put("v1/at.jpg", b"x", "frame_at")
    assert s3_server.client().head_object(Bucket=s3_bucket, Key="jobs/v1/at.jpg")["ContentLength"] == 1
    assert evidence_location({}, tmp_path / "ev") == str((tmp_path / "ev").resolve())
    folder = open_evidence_store(evidence_location({}, tmp_path / "ev"), env)
    assert isinstance(folder, FolderEvidenceStore) and folder.location == str((tmp_path / "ev").resolve())
    with pytest.raises(PermanentError, match="ftp"):
        open_evidence_store("ftp://host/x", env)


def test_verify_a_package_in_s3(s3_server, s3_bucket, tmp_path):
    """The signed manifest of a package in S3 verifies through the store; an added object and
    an object whose bytes no longer match its digest are both named."""
    from exchange.home import init_home
    from pipeline.manifest import EvidenceSigner, build_manifest, verify_stored_package

    store = _s3(s3_server, s3_bucket)
    files = [store.put("v1/at.jpg", b"at", "frame_at"), store.put("v1/clip.mp4", b"clip", "clip")]
    doc = build_manifest([(f.path.removeprefix("v1/"), f.sha256) for f in files], "v1", EvidenceSigner.from_home(init_home(tmp_path / "home")))
    store.put("v1/manifest.json", json.dumps(doc).encode(), "manifest")
    ok = verify_stored_package(store, "v1")
    assert ok.ok and ok.files_checked == 2 and ok.package == f"s3://{s3_bucket}/cases/2026/v1"
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="cases/2026/v1/extra.jpg", Body=b"added")
    client.put_object(Bucket=s3_bucket, Key="cases/2026/v1/at.jpg", Body=b"forged", Metadata={"sha256": files[0].sha256})
    bad = verify_stored_package(store, "v1")
    assert not bad.ok
    assert any("extra.jpg: not listed" in p for p in bad.problems) and any("at.jpg: SHA-256 differs" in p for p in bad.problems)
