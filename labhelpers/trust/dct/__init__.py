"""Docker Content Trust (Notary v1) for the lab: a real Notary service and a Docker-faithful client.

DCT is retired (notary.docker.io shuts down on 8 Dec 2026), so the course shows it as history: signing on
``docker push``, refusing unsigned tags on ``docker pull``, and ``docker trust inspect``.
"""

from .client import DctClient, DctInspectError, SignResult, TrustedTarget, default_trust_dir
from .messages import DOCKER_NOTARY_SERVER, DctError, trust_server
from .notary_server import PUBLIC_NOTARY_URL, NotaryService, NotaryStartError, notary_binaries

__all__ = [
    "DOCKER_NOTARY_SERVER",
    "PUBLIC_NOTARY_URL",
    "DctClient",
    "DctError",
    "DctInspectError",
    "NotaryService",
    "NotaryStartError",
    "SignResult",
    "TrustedTarget",
    "default_trust_dir",
    "notary_binaries",
    "trust_server",
]
