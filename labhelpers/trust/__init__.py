"""Image signing and verification for the lab: cosign-compatible keys and signatures, Kyverno verifyImages.

* :mod:`.keys` - cosign.key / cosign.pub formats (readable by real cosign, and the other way round).
* :mod:`.cosign` - ``cosign sign --key``: simple-signing payloads pushed as ``sha256-<hex>.sig`` images.
* :mod:`.verify` - ``cosign verify --key`` with cosign's rules and messages.
* :mod:`.kyverno` - the ``verifyImages`` hook the sandbox admission engine calls.
* :mod:`.cli` - ``labctl sign generate-key-pair | sign | verify``.
"""

from .cosign import SignResult, generate_key_pair, load_private_key, presign, sign_image, sign_image_async
from .keys import CosignKeyError, load_public_keys
from .kyverno import ImageVerification, kyverno_validate_images, kyverno_verify_images, registry_access
from .verify import VerificationError, VerifyResult, verify_image, verify_image_async

__all__ = [
    "CosignKeyError",
    "ImageVerification",
    "SignResult",
    "VerificationError",
    "VerifyResult",
    "generate_key_pair",
    "kyverno_validate_images",
    "kyverno_verify_images",
    "load_private_key",
    "load_public_keys",
    "presign",
    "registry_access",
    "sign_image",
    "sign_image_async",
    "verify_image",
    "verify_image_async",
]
