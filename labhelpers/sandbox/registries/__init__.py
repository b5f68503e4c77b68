"""Real OCI registries for the lab sandbox: Distribution processes, token auth, seeding and a client."""

from .client import (
    AuthorizationError,
    Credentials,
    DigestMismatchError,
    NotFoundError,
    RegistryClient,
    RegistryClientError,
    RegistryError,
    RegistryUnreachableError,
    SyncRegistryClient,
    TokenFetchError,
)
from .hosts import HOSTS, RegistryFleet, UnknownHostError

__all__ = [
    "HOSTS",
    "AuthorizationError",
    "Credentials",
    "DigestMismatchError",
    "NotFoundError",
    "RegistryClient",
    "RegistryClientError",
    "RegistryError",
    "RegistryFleet",
    "RegistryUnreachableError",
    "SyncRegistryClient",
    "TokenFetchError",
    "UnknownHostError",
]
