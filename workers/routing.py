"""Queues and the routing of tasks to them.

=============  ==================================================================  =========
queue          work                                                                hosts
=============  ==================================================================  =========
``detect.gpu``  a file segment: decode, detect, track, rules, evidence (CUDA)      GPU
``detect.cpu``  the same on CPU                                                    CPU
``plates``      plate reading of stored violations (``safecity.read_plate``)        CPU/GPU
``registry``    data-holder lookups (``safecity.match_registry``; I/O bound)       any
``exchange``    exchange-log maintenance: signed checkpoints of the chain head     any
``backup``      replication of the exchange log to the backup centre               backup
=============  ==================================================================  =========

A segment goes to ``detect.gpu`` or ``detect.cpu`` by the job's device (chosen at submission);
every other task has one fixed queue.
"""

from __future__ import annotations

QUEUES: tuple[str, ...] = ("detect.gpu", "detect.cpu", "plates", "registry", "exchange", "backup")

#: Task name -> queue; detection tasks are routed per call (:func:`detect_queue`).
TASK_QUEUES: dict[str, str] = {
    "safecity.process_segment": "detect.cpu",
    "safecity.read_plate": "plates",
    "safecity.match_registry": "registry",
    "safecity.exchange_checkpoint": "exchange",
    "safecity.backup_replicate": "backup",
}


def detect_queue(device: str) -> str:
    """The detection queue for a device: ``cpu`` -> ``detect.cpu``, ``cuda`` / ``cuda:N`` -> ``detect.gpu``.

    Raises:
        ValueError: an unknown device.
    """
    if device == "cpu":
        return "detect.cpu"
    if device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit()):
        return "detect.gpu"
    raise ValueError(f"device: expected cpu, cuda or cuda:N, got {device!r}")


def check_queues(names: list[str]) -> list[str]:
    """Validate queue names given on the command line.

    Raises:
        ValueError: an unknown queue, naming the valid ones.
    """
    if not names:
        raise ValueError(f"--queues: give at least one of {', '.join(QUEUES)}")
    bad = [n for n in names if n not in QUEUES]
    if bad:
        raise ValueError(f"--queues: unknown queue(s) {', '.join(bad)}; valid: {', '.join(QUEUES)}")
    return list(dict.fromkeys(names))
