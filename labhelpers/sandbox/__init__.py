"""The embedded lab cluster: a Kubernetes-API-compatible server, controllers, registries and a kubelet."""

from .manager import Sandbox, SandboxError, default_dir

__all__ = ["Sandbox", "SandboxError", "default_dir"]
