"""The kubelet's side of ``pods/log``, ``pods/exec`` and ``pods/attach`` (what its port 10250 serves).

The API server checks the pod and the container name, then calls :class:`KubeletStreaming`, which finds the
container instance the way the kubelet does (``validateContainerLogStatus`` over the pod's status) and hands
out its log file or its process. Errors carry the kubelet's texts; the API server decides how they reach the
client (a log error is a 400 BadRequest with the text as message).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..apiserver.podstreams import NodeError
from .commands import ExecNotFound
from .runtime import ContainerProcess, exec_error_message

if TYPE_CHECKING:
    from .kubelet import Kubelet

__all__ = ["KubeletError", "KubeletStreaming", "validate_container_log_status"]


class KubeletError(NodeError):
    """A kubelet refusal; ``str()`` is its text."""


def _status_of(pod: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for s in status.get(key) or []:
            if s.get("name") == name:
                return s
    return None


def validate_container_log_status(pod: Mapping[str, Any], container: str, previous: bool) -> str:
    """``validateContainerLogStatus``: the container ID whose log to read, or :class:`KubeletError`."""
    pod_name = (pod.get("metadata") or {}).get("name", "")
    cs = _status_of(pod, container)
    if cs is None:
        raise KubeletError(f'container "{container}" in pod "{pod_name}" is not available')
    state, last = cs.get("state") or {}, (cs.get("lastState") or {}).get("terminated")
    waiting, running, terminated = state.get("waiting"), state.get("running"), state.get("terminated")
    if previous:
        if not last or not last.get("containerID"):
            raise KubeletError(f'previous terminated container "{container}" in pod "{pod_name}" not found')
        return last["containerID"]
    if running is not None:
        return cs.get("containerID", "")
    if terminated is not None:
        if terminated.get("containerID"):
            return terminated["containerID"]
        if last and last.get("containerID"):
            return last["containerID"]
        raise KubeletError(f'container "{container}" in pod "{pod_name}" is terminated')
    if last is not None:
        if not last.get("containerID"):
            raise KubeletError(f'container "{container}" in pod "{pod_name}" is terminated')
        return last["containerID"]
    if waiting is not None:
        reason = waiting.get("reason", "")
        if reason == "ErrImagePull":
            raise KubeletError(f'container "{container}" in pod "{pod_name}" is waiting to start: image can\'t be '
                               "pulled")
        if reason == "ImagePullBackOff":
            raise KubeletError(f'container "{container}" in pod "{pod_name}" is waiting to start: trying and '
                               "failing to pull image")
        raise KubeletError(f'container "{container}" in pod "{pod_name}" is waiting to start: {reason}')
    raise KubeletError(f'container "{container}" in pod "{pod_name}" is waiting to start - no logs yet')


class KubeletStreaming:
    """Logs, exec and attach for the pods of one :class:`~.kubelet.Kubelet`."""

    def __init__(self, kubelet: Kubelet) -> None:
        self.kubelet = kubelet

    def _worker(self, pod: Mapping[str, Any]) -> Any:
        meta = pod.get("metadata") or {}
        worker = self.kubelet.workers.get(meta.get("uid", ""))
        if worker is None:
            raise KubeletError(f'pod "{meta.get("name", "")}" cannot be found - no logs available')
        return worker

    def log_source(self, pod: Mapping[str, Any], container: str, previous: bool
                   ) -> tuple[Path | None, Callable[[], bool]]:
        """The log file to read (None: the container never wrote one) and whether it may still grow."""
        container_id = validate_container_log_status(pod, container, previous)
        worker = self._worker(pod)
        path = worker.log_path_of(container, container_id)
        runtime = self.kubelet.processes
        return path, lambda: runtime.running(container_id)

    def _running(self, pod: Mapping[str, Any], container: str) -> tuple[Any, str]:
        worker = self._worker(pod)
        rec = worker.runtime.latest(container)
        if rec is None or rec.state != "running":
            raise KubeletError(f'container not found ("{container}")', before_upgrade=True)
        return worker, rec.container_id

    async def exec(self, pod: Mapping[str, Any], container: str, argv: list[str], *, tty: bool,
                   stdin: bool) -> ContainerProcess:
        """Start ``argv`` in the running container; :class:`KubeletError` with containerd's text when the
        program does not exist there (every program, for a container the runtime does not run)."""
        worker, container_id = self._running(pod, container)
        plan = worker.plan_of(container)
        runtime = self.kubelet.processes
        try:
            if plan is None or runtime.get(container_id) is None:
                raise ExecNotFound(f'exec: "{argv[0] if argv else ""}": executable file not found in $PATH')
            return await runtime.exec(container_id, plan, argv, tty=tty, stdin=stdin)
        except ExecNotFound as e:
            raise KubeletError(f"error executing command in container: {exec_error_message(e)}") from None

    def attach(self, pod: Mapping[str, Any], container: str) -> ContainerProcess | None:
        """The running container's process (None for a container without one: attach shows nothing)."""
        _worker, container_id = self._running(pod, container)
        return self.kubelet.processes.get(container_id)
