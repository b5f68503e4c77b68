"""The sandbox kubelet: a one-node "cluster" whose pods pull real images from the lab registries.

It does what a kubelet with containerd does: scheduling onto ``lab-node``, pull secrets and the credential
keyring, pull policies and the node image cache, real pulls with containerd's error texts, the image back-off,
the container events, and the pod status (conditions, phase, container states). Containers of a few known
images run their command as processes on the lab machine, an emulation (:mod:`.runtime`), with logs, exec and
attach (:mod:`.streaming`). See :mod:`.pods` for the sync loop and :mod:`.image_manager` for the image rules.
"""

from .backoff import IMAGE_BACKOFF_INITIAL, IMAGE_BACKOFF_MAX, Backoff
from .image_manager import EnsureResult, ImageManager
from .images import CriError, ImageRecord, ImageService
from .kubelet import COMPONENT, Kubelet
from .node import CONTAINER_RUNTIME_VERSION, HOST_IP, LEASE, NODE, NODE_NAME, POD_CIDR

__all__ = [
    "COMPONENT",
    "CONTAINER_RUNTIME_VERSION",
    "HOST_IP",
    "IMAGE_BACKOFF_INITIAL",
    "IMAGE_BACKOFF_MAX",
    "LEASE",
    "NODE",
    "NODE_NAME",
    "POD_CIDR",
    "Backoff",
    "CriError",
    "EnsureResult",
    "ImageManager",
    "ImageRecord",
    "ImageService",
    "Kubelet",
]
