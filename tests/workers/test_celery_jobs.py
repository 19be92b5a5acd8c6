"""End to end through a real Redis and a real worker process: submit, process, store once."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from celery_helpers import DETECTOR, OPTIONS, PLAN, TEST_BROKER, key, kill_group, shared_clip, start_worker, stored

BROKER = TEST_BROKER


def _ctx(db_url, tmp_path, broker_url):
    from workers.jobs import WorkerContext
    from workers.settings import load_settings

    return WorkerContext(load_settings(env={}, broker_url=broker_url, db_url=db_url, evidence_root=tmp_path / "evidence",
                                      key_prefix=os.environ.get("SAFECITY_BROKER_PREFIX", ""), **PLAN))


def test_settings_and_app_configuration():
    """Settings come from the environment; the app acknowledges late and requeues on a lost worker."""
    from workers.app import celery_config
    from workers.settings import load_settings

    s = load_settings(env={"SAFECITY_BROKER_URL": "redis://broker:6379/2", "SAFECITY_VISIBILITY_S": "900"})
    conf = celery_config(s)
    assert conf["broker_url"] == "redis://broker:6379/2" and conf["result_backend"] == "redis://broker:6379/2"
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"] and conf["worker_prefetch_multiplier"] == 1
    assert conf["broker_transport_options"]["visibility_timeout"] == 900
    assert [q.name for q in conf["task_queues"]] == ["detect.gpu", "detect.cpu", "plates", "registry", "exchange", "backup"]
    with pytest.raises(ValueError, match="broker_url"):
        load_settings(env={"SAFECITY_BROKER_URL": "amqp://x"})


@pytest.mark.parametrize(
    ("device", "queue"), [("cpu", "detect.cpu"), ("cuda", "detect.gpu"), ("cuda:1", "detect.gpu"), ("gpu", ValueError), ("cuda:x", ValueError)]
)
def test_detect_queue_by_device(device, queue):
    """Segments are routed by the job's device; a bad device is named."""
    from workers.routing import detect_queue

    if queue is ValueError:
        with pytest.raises(ValueError, match="device"):
            detect_queue(device)
    else:
        assert detect_queue(device) == queue


def test_submit_process_store_exactly_once(tmp_path, broker):
    """A worker processes every segment; violations equal the whole-video run, each stored and logged once;
    submitting again adds nothing; a file truncated after submission fails with a reason and stores nothing."""
    from workers.app import create_app
    from workers.jobs import SubmitRequest, enqueue, job_document, submit_job, wait_for_job

    clip, reference = shared_clip()
    db_url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    ctx = _ctx(db_url, tmp_path, broker)
    app = create_app(ctx.settings)
    good = submit_job(ctx, SubmitRequest(clip / "scene.mp4", clip / "camera.yaml", "cpu", DETECTOR, None, False, OPTIONS))
    # A second copy of the clip that gets cut in half after it was submitted.
    bad_dir = tmp_path / "bad"
    shutil.copytree(clip, bad_dir)
    cam = bad_dir / "camera.yaml"
    cam.write_text(cam.read_text().replace("camera_id: clip-day-s1", "camera_id: clip-bad"))
    bad = submit_job(ctx, SubmitRequest(bad_dir / "scene.mp4", bad_dir / "camera.yaml", "cpu", DETECTOR, None, False, OPTIONS))
    data = (bad_dir / "scene.mp4").read_bytes()
    (bad_dir / "scene.mp4").write_bytes(data[: len(data) // 2])
    # The motion detector keeps a background model: its jobs are one segment (jobs.STATEFUL_DETECTORS).
    assert len(good.segment_ids) == 1 and good.created and bad.created and bad.job_id != good.job_id
    worker = start_worker(tmp_path, "w-e2e", broker, db_url, pool="prefork", concurrency=2)
    try:
        assert enqueue(app, ctx, good.job_id) == 1 and enqueue(app, ctx, bad.job_id) == 1
        view = wait_for_job(ctx, good.job_id, timeout_s=400)
        bad_view = wait_for_job(ctx, bad.job_id, timeout_s=120)
    finally:
        kill_group(worker, 15)
    assert view.status == "done", view.job["error"]
    doc = job_document(view)
    assert sorted(map(key, doc["violations"])) == sorted(map(key, reference))
    ids, candidates = stored(db_url, "clip-day-s1")
    assert sorted(ids) == sorted(v["id"] for v in doc["violations"]) and candidates == len(ids)
    # The truncated copy: every segment failed with the reason, nothing of it stored.
    assert bad_view.status == "failed" and all(s["status"] == "failed" for s in bad_view.segments)
    assert "changed since job" in bad_view.job["error"] and "truncated" in bad_view.job["error"]
    assert stored(db_url, "clip-bad")[0] == []
    # A person restores the file and sends the failed segments again.
    from workers.jobs import job_view, retry_failed

    (bad_dir / "scene.mp4").write_bytes(data)
    assert retry_failed(ctx, bad.job_id) == 1 and enqueue(app, ctx, bad.job_id) == 1
    again_view = job_view(ctx, bad.job_id)
    assert again_view.status == "queued" and {s["status"] for s in again_view.segments} == {"queued"}
    assert again_view.job["error"] is None
    assert all(s["attempts"] == 1 for s in bad_view.segments), "a permanent error is not retried"
    # Submitting the same work again finds the job; redelivering its segments stores nothing new.
    again = submit_job(ctx, SubmitRequest(clip / "scene.mp4", clip / "camera.yaml", "cpu", DETECTOR, None, False, OPTIONS))
    assert again.job_id == good.job_id and not again.created
    from workers.jobs import run_segment

    assert {run_segment(ctx, sid, dt.datetime.now(dt.timezone.utc)).status for sid in good.segment_ids} == {"skipped"}
    assert stored(db_url, "clip-day-s1") == (ids, candidates)


def test_submit_refuses_unreadable_video(tmp_path):
    """A video truncated before submission is refused at once with the file named; nothing stored."""
    from safecity.errors import InputError
    from workers.jobs import SubmitRequest, submit_job

    clip, _ = shared_clip()
    cut = tmp_path / "cut.mp4"
    data = (clip / "scene.mp4").read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    ctx = _ctx(f"sqlite:///{tmp_path / 'jobs.sqlite'}", tmp_path, BROKER)
    with pytest.raises(InputError, match="cut.mp4"):
        submit_job(ctx, SubmitRequest(cut, clip / "camera.yaml", "cpu", DETECTOR, None, False, OPTIONS))


def test_exchange_and_backup_tasks(tmp_path, broker):
    """The exchange and backup tasks, run in this process on a real database: a signed checkpoint,
    then the whole log replicated to the backup replica with no problem; a second run sends nothing."""
    from exchange.backup import BackupReplica, backup_problems
    from exchange.home import init_home
    from workers.app import create_app
    from workers.settings import load_settings

    create_app(load_settings(env={}, broker_url=broker))  # an earlier app in the process must not lend its tasks
    settings = load_settings(env={}, broker_url=broker, db_url=f"sqlite:///{tmp_path / 'primary.sqlite'}",
                             backup_db_url=f"sqlite:///{tmp_path / 'backup.sqlite'}")
    app = create_app(settings)
    assert app.amqp.router.route({}, "safecity.backup_replicate")["queue"].name == "backup"
    assert app.amqp.router.route({}, "safecity.exchange_checkpoint")["queue"].name == "exchange"
    assert app.tasks["safecity.exchange_checkpoint"].apply().get()["seq"] is None  # empty log: nothing to sign
    import datetime as dt

    from exchange.flow import CandidateManifest, record_candidates

    with app.safecity_context().sessions().begin() as session:
        record_candidates(session, init_home(), "cam-1", "run-1",
                          [CandidateManifest("v-1", "speeding", "cam-1", "2026-11-20T08:00:00+00:00", (("v-1/at.jpg", "0" * 64),))],
                          dt.datetime.now(dt.timezone.utc))
    cp = app.tasks["safecity.exchange_checkpoint"].apply().get()
    assert cp["seq"] == 1 and cp["entry_index"] == 2  # the candidate and the owner's receipt
    assert app.tasks["safecity.backup_replicate"].apply().get()["batches"] >= 1
    assert app.tasks["safecity.backup_replicate"].apply().get()["batches"] == 0
    replica = BackupReplica(settings.backup_db_url, init_home().roster)
    try:
        with app.safecity_context().sessions().begin() as session:
            assert backup_problems(session, replica) == []
    finally:
        replica.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["worker", "--queues", "detect.foo"], "unknown queue(s) detect.foo"),
        (["worker", "--queues", "detect.cpu", "--device", "tpu"], "device: expected cpu, cuda or cuda:N"),
        (["worker", "--device", "cpu", "--pool", "gevent"], "--pool: expected prefork, solo or threads"),
        (["job", "0123456789abcdef"], "job 0123456789abcdef: not found"),
    ],
)
def test_cli_refuses_bad_input(tmp_path, args, message):
    """Operator mistakes end with exit code 2 and a message naming the option or the job."""
    from typer.testing import CliRunner

    from safecity.cli import app

    if args[0] == "job":
        args = [*args, "--db", f"sqlite:///{tmp_path / 'jobs.sqlite'}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_gpu_worker_backends_and_devices(tmp_path):
    """A GPU worker runs the ultralytics backend on the job's CUDA device, and refuses, as a permanent
    failure naming the fix, a backend that cannot use the GPU here: the onnx backend without
    onnxruntime's CUDA provider (it would quietly run on the CPU), or ultralytics without torch."""
    from safecity.errors import PermanentError
    from workers.jobs import WorkerContext, gpu_backends, onnx_cuda_available, torch_device, ultralytics_cuda_available
    from workers.settings import load_settings

    assert torch_device("cpu") == "cpu" and torch_device("cuda") == "cuda:0" and torch_device("cuda:3") == "cuda:3"
    with pytest.raises(ValueError, match="device"):
        torch_device("gpu")
    assert gpu_backends() == [n for n, ok in (("onnx", onnx_cuda_available()), ("ultralytics", ultralytics_cuda_available())) if ok]
    ctx = WorkerContext(load_settings(env={}, evidence_root=tmp_path / "evidence"), device="cuda:1", name="gpu-test")
    if not onnx_cuda_available():
        with pytest.raises(PermanentError, match=r"worker gpu-test: device cuda:1: .*no CUDA provider.*onnxruntime-gpu"):
            ctx.detector("onnx", None)
    from detectors.ultralytics_yolo import ultralytics_available

    if ultralytics_available() is not None:
        with pytest.raises(PermanentError, match=r"worker gpu-test: detector 'ultralytics': .*cannot run"):
            ctx.detector("ultralytics", None)
    cpu = WorkerContext(load_settings(env={}, evidence_root=tmp_path / "evidence"), device="cpu")
    detector, name = cpu.detector("onnx", None)
    assert name.startswith("onnx:") and cpu.detector("onnx", None)[0] is detector  # kept per process


def test_gpu_worker_without_any_gpu_backend_exits_2():
    """`safecity worker --device cuda` on a machine where neither onnxruntime nor torch can use a GPU
    is refused up front, naming both ways to get one."""
    from typer.testing import CliRunner

    from safecity.cli import app
    from workers.jobs import gpu_backends

    if gpu_backends():
        pytest.skip(f"this machine has GPU backends {gpu_backends()}")
    result = CliRunner().invoke(app, ["worker", "--queues", "detect.gpu", "--device", "cuda", "--pool", "solo"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "no detector backend can use a GPU" in text and "onnxruntime-gpu" in text and "--detector ultralytics" in text


def test_submit_refuses_an_unknown_model_before_any_work(tmp_path):
    """`safecity submit --model NAME` with a name that is neither a committed model nor a file exits 2
    naming it; no job is stored."""
    from typer.testing import CliRunner

    from safecity.cli import app

    db = tmp_path / "jobs.sqlite"
    video = tmp_path / "v.mp4"
    video.write_bytes(b"not a video")
    result = CliRunner().invoke(app, [
        "submit", str(video), "--camera", str(tmp_path / "camera.yaml"), "--model", "vehicles-yolov9-nope",
        "--db", f"sqlite:///{db}", "--broker", TEST_BROKER,
    ])
    assert result.exit_code == 2, result.output
    assert "vehicles-yolov9-nope" in " ".join(result.output.split())


@pytest.mark.parametrize(("device", "given", "stored"), [("cuda", None, 32), ("cpu", None, 4), ("cuda:1", 8, 8)])
def test_submit_batches_gpu_jobs_by_default(tmp_path, broker, device, given, stored):
    """`safecity submit` stores the job's frames per inference call: 32 for a GPU job (measured on an
    H200), ProcessOptions' 4 on a CPU, or what --batch-size says. The job waits on the real Redis
    queue of its device; no worker is needed to read what was stored."""
    import json

    from typer.testing import CliRunner

    from safecity.cli import app
    from workers.jobs import WorkerContext, job_view
    from workers.settings import load_settings

    sample = Path(__file__).resolve().parents[2] / "sample_videos" / "day-default-s1"
    db_url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    args = ["submit", str(sample / "scene.mp4"), "--camera", str(sample / "camera.yaml"), "--device", device,
            "--db", db_url, "--broker", broker, "--evidence", str(tmp_path / "evidence"), "--json"]
    if given:
        args += ["--batch-size", str(given)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    job_id = json.loads(result.stdout)["job_id"]
    ctx = WorkerContext(load_settings(env={}, db_url=db_url, broker_url=broker, evidence_root=tmp_path / "evidence"))
    view = job_view(ctx, job_id)
    assert view.job["options"]["batch_size"] == stored and view.job["device"] == device


def test_live_workers_choose_device_and_batch_like_jobs(tmp_path):
    """`safecity live` takes --detector/--model/--device/--batch-size: a GPU pool defaults to
    cuda and batches of 32 (a CPU pool to cpu and 4), and builds its detector with the same
    device rules as file jobs; a bad device is refused with exit 2 naming it."""
    from typer.testing import CliRunner

    from safecity.cli import app
    from safecity.errors import PermanentError
    from workers.jobs import device_detector, onnx_cuda_available
    from workers.live import LiveSettings

    base = dict(redis_url="redis://unused", db_url="sqlite://", worker_id="w-dev", spool_dir=tmp_path / "s", out_dir=tmp_path)
    with pytest.raises(ValueError, match="device"):
        LiveSettings(**base, device="tpu")
    assert LiveSettings(**base).device == "cpu"
    detector, name = device_detector("onnx", None, "cpu", worker="w-dev")
    assert name.startswith("onnx:")
    if not onnx_cuda_available():
        with pytest.raises(PermanentError, match="worker w-dev: device cuda: .*onnxruntime-gpu"):
            device_detector("onnx", None, "cuda", worker="w-dev")
    result = CliRunner().invoke(app, ["live", "--device", "tpu", "--db", f"sqlite:///{tmp_path / 'x.sqlite'}", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "tpu" in result.output, result.output


def test_live_gpu_pool_without_any_gpu_backend_exits_2(tmp_path):
    """`safecity live --pool gpu` (device cuda by default) is refused up front where no backend can
    use a GPU, as `safecity worker --device cuda` is; `--watch-only` needs no detector."""
    from typer.testing import CliRunner

    from safecity.cli import app
    from workers.jobs import gpu_backends

    if gpu_backends():
        pytest.skip(f"this machine has GPU backends {gpu_backends()}")
    result = CliRunner().invoke(app, ["live", "--pool", "gpu", "--db", f"sqlite:///{tmp_path / 'x.sqlite'}", "--out", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "no detector backend can use a GPU" in " ".join(result.output.split())
