"""Docker's passphrase prompts for trust keys, replayed from scripted answers into a transcript.

``docker push`` with content trust asks through Notary's ``passphrase.PromptRetrieverWithInOut`` with
Docker's alias map (``targets``/``snapshot`` keys are called "repository" keys), after checking the
``DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE``/``DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE`` variables. The retry
rules are Notary's keystore loops: a new key is asked for again after a too-short or mismatched entry (at
most 11 tries), an existing key up to 4 times with "Passphrase incorrect. Please retry." in between.

Answers come from one of:
* a mapping ``{"root": ..., "repository": ...}`` - what the user types at every prompt for that key kind;
* a sequence of lines - piped stdin, consumed prompt by prompt (Enter and Repeat are separate lines);
* a mapping with ``DOCKER_CONTENT_TRUST_*_PASSPHRASE`` keys - the environment variables, which silence the
  prompts entirely (and skip the length check, as in Docker).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "ENV_REPOSITORY",
    "ENV_ROOT",
    "ROOT_KEY_WARNING",
    "AttemptsExceededError",
    "PassphraseError",
    "PasswordInvalidError",
    "PromptSession",
    "display_alias",
]

ROOT_KEY_WARNING = (
    "You are about to create a new root signing key passphrase. This passphrase\n"
    "will be used to protect the most sensitive key in your signing system. Please\n"
    "choose a long, complex passphrase and be careful to keep the password and the\n"
    "key file itself secure and backed up. It is highly recommended that you use a\n"
    "password manager to generate the passphrase and keep it safe. There will be no\n"
    "way to recover this key. You can find the key in your config directory."
)
TOO_SHORT = "Passphrase is too short. Please use a password manager to generate and store a good random passphrase."
MISMATCH = "Passphrases do not match. Please retry."
INCORRECT = "Passphrase incorrect. Please retry."
ENV_ROOT = "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE"
ENV_REPOSITORY = "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"
DOCKER_ALIASES = {"root": "root", "snapshot": "repository", "targets": "repository", "default": "repository"}
ID_CHARS = 7
MIN_LENGTH = 8


class PassphraseError(Exception):
    """A passphrase could not be obtained; ``str()`` is Notary's error text."""


class AttemptsExceededError(PassphraseError):
    def __init__(self) -> None:
        super().__init__("maximum number of passphrase attempts exceeded")


class PasswordInvalidError(PassphraseError):
    def __init__(self) -> None:
        super().__init__("password invalid, operation has failed.")


class _EOF(Exception):
    """stdin ran dry (Go's io.EOF)."""


def display_alias(role: str) -> str:
    """How Docker names a key kind in prompts (``targets`` -> ``repository``)."""
    return DOCKER_ALIASES.get(role, role)


Answers = Mapping[str, str] | Sequence[str] | None


@dataclass
class PromptSession:
    """One CLI invocation's prompts: a passphrase cache per alias and the text written to stdout."""

    answers: Answers = None
    out: list[str] = field(default_factory=list)
    cache: dict[str, str] = field(default_factory=dict)
    _lines: Iterator[str] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.answers, Sequence) and not isinstance(self.answers, str):
            self._lines = iter(list(self.answers))

    # ------------------------------------------------------------------ sources

    @property
    def transcript(self) -> str:
        return "".join(self.out)

    def _env(self, alias: str) -> str | None:
        """Docker's env lookup: the alias' own variable, then ``default`` (repository) for non-root keys."""
        if not isinstance(self.answers, Mapping):
            return None
        env = {"root": self.answers.get(ENV_ROOT, ""), "snapshot": self.answers.get(ENV_REPOSITORY, ""),
               "targets": self.answers.get(ENV_REPOSITORY, ""), "default": self.answers.get(ENV_REPOSITORY, "")}
        if env.get(alias):
            return env[alias]
        if alias != "root" and env["default"]:
            return env["default"]
        return None

    def _read(self, alias: str) -> str:
        """The next typed line (Go trims ``\\r\\n``, then Notary trims spaces)."""
        if self._lines is not None:
            try:
                line = next(self._lines)
            except StopIteration:
                raise _EOF from None
        elif isinstance(self.answers, Mapping):
            names = (alias, display_alias(alias)) if alias in DOCKER_ALIASES else (alias, "delegation")
            for name in names:
                if name in self.answers:
                    line = self.answers[name]
                    break
            else:
                raise _EOF
        else:
            raise _EOF
        return line.strip("\r\n").strip()

    def _prompt(self, text: str, alias: str) -> str:
        self.out.append(text)
        try:
            value = self._read(alias)
        finally:
            self.out.append("\n")  # fmt.Fprintln(out) after the (unechoed) input
        return value

    # ------------------------------------------------------------------ Notary's loops

    def new_key(self, key_id: str, alias: str) -> str:
        """``encryptAndAddKey``: ask (and confirm) a passphrase for a key being created."""
        env = self._env(alias)
        if env is not None:
            return env
        shown = display_alias(alias)
        with_id = f" with ID {key_id[:ID_CHARS]}"
        for attempt in range(12):
            if attempt == 0:
                if alias == "root":
                    self.out.append(ROOT_KEY_WARNING + "\n")
                if alias in self.cache:
                    return self.cache[alias]
            try:
                value = self._prompt(f"Enter passphrase for new {shown} key{with_id}: ", alias)
                if len(value.encode()) < MIN_LENGTH:
                    self.out.append(TOO_SHORT + "\n")
                    continue
                confirm = self._prompt(f"Repeat passphrase for new {shown} key{with_id}: ", alias)
            except _EOF:
                continue
            if value != confirm:
                self.out.append(MISMATCH + "\n")
                continue
            self.cache[alias] = value
            return value
        raise AttemptsExceededError

    def existing_key(self, key_id: str, alias: str, unlocks: Callable[[str], bool]) -> str:
        """``getPasswdDecryptBytes``: ask until ``unlocks(passphrase)``; 4 prompts at most."""
        env = self._env(alias)
        shown = display_alias(alias)
        for attempt in range(12):
            if env is not None:
                if attempt > 1:  # the env retriever gives up on its third call
                    raise PasswordInvalidError
                value = env
            else:
                value_or_none = self._interactive(key_id, alias, shown, attempt)
                if value_or_none is None:
                    raise PasswordInvalidError
                value = value_or_none
            if unlocks(value):
                return value
        raise AttemptsExceededError

    def _interactive(self, key_id: str, alias: str, shown: str, attempt: int) -> str | None:
        if attempt == 0:
            if alias in self.cache:
                return self.cache[alias]
        elif attempt > 3:
            return None
        else:
            self.out.append(INCORRECT + "\n")
        try:
            value = self._prompt(f"Enter passphrase for {shown} key with ID {key_id[:ID_CHARS]}: ", alias)
        except _EOF:
            return None
        self.cache[alias] = value
        return value
