"""Docker's trust-key prompts: texts from notary's passphrase package, retry rules from its keystore."""

from __future__ import annotations

import pytest

from labhelpers.trust.dct.passphrase import (
    ROOT_KEY_WARNING,
    AttemptsExceededError,
    PasswordInvalidError,
    PromptSession,
    display_alias,
)

ROOT_ID = "c26d63db2ace4667b1eb8018f5fdd1cb489501d0e3b4a61d34ab2bcee217a891"
REPO_ID = "fe4ffeae210e2224d9ed0b3d6d692e0490b7dd05fe006bbd4b0ba33280917bcc"


def test_first_push_prompts_like_docker() -> None:
    s = PromptSession({"root": "rootpass123", "repository": "repopass123"})
    assert s.new_key(ROOT_ID, "root") == "rootpass123"
    assert s.new_key(REPO_ID, "targets") == "repopass123"
    assert s.transcript == (
        ROOT_KEY_WARNING + "\n"
        "Enter passphrase for new root key with ID c26d63d: \n"
        "Repeat passphrase for new root key with ID c26d63d: \n"
        "Enter passphrase for new repository key with ID fe4ffea: \n"
        "Repeat passphrase for new repository key with ID fe4ffea: \n")
    assert ROOT_KEY_WARNING.startswith("You are about to create a new root signing key passphrase. This passphrase\n")


def test_short_and_mismatched_entries_are_asked_again_from_stdin_lines() -> None:
    s = PromptSession(["short", "longenough1", "different1", "  longenough1\r\n", "longenough1"])
    assert s.new_key(ROOT_ID, "root") == "longenough1"
    lines = s.transcript.splitlines()
    assert lines[-7:] == [
        "Enter passphrase for new root key with ID c26d63d: ",
        "Passphrase is too short. Please use a password manager to generate and store a good random passphrase.",
        "Enter passphrase for new root key with ID c26d63d: ",
        "Repeat passphrase for new root key with ID c26d63d: ",
        "Passphrases do not match. Please retry.",
        "Enter passphrase for new root key with ID c26d63d: ",
        "Repeat passphrase for new root key with ID c26d63d: ",
    ]
    assert s.transcript.count("You are about to create") == 1  # the warning only precedes the first attempt


def test_exhausted_stdin_gives_up_after_twelve_prompts() -> None:
    s = PromptSession([])
    with pytest.raises(AttemptsExceededError, match="^maximum number of passphrase attempts exceeded$"):
        s.new_key(REPO_ID, "targets")
    assert s.transcript.count("Enter passphrase for new repository key with ID fe4ffea: \n") == 12


def test_wrong_passphrase_for_existing_key_four_prompts_then_invalid() -> None:
    s = PromptSession({"repository": "nope-nope"})
    with pytest.raises(PasswordInvalidError, match=r"^password invalid, operation has failed\.$"):
        s.existing_key(REPO_ID, "targets", lambda p: p == "right-pass")
    assert s.transcript == ("Enter passphrase for repository key with ID fe4ffea: \n"
                            + "Passphrase incorrect. Please retry.\n"
                            "Enter passphrase for repository key with ID fe4ffea: \n" * 3)


def test_second_entry_can_be_right() -> None:
    s = PromptSession(["wrong-one", "right-pass"])
    assert s.existing_key(REPO_ID, "targets", lambda p: p == "right-pass") == "right-pass"
    assert s.transcript.count("Passphrase incorrect. Please retry.") == 1


def test_cached_alias_is_not_asked_twice() -> None:
    s = PromptSession(["longenough1", "longenough1"])
    s.new_key(ROOT_ID, "root")
    before = s.transcript
    assert s.existing_key(ROOT_ID, "root", lambda p: p == "longenough1") == "longenough1"
    assert s.transcript == before


def test_environment_variables_silence_prompts_and_skip_length_check() -> None:
    s = PromptSession({"DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE": "r",
                       "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE": "x"})
    assert s.new_key(ROOT_ID, "root") == "r"
    assert s.new_key(REPO_ID, "targets") == "x"
    assert s.new_key(REPO_ID, "snapshot") == "x"
    assert s.transcript == ""
    with pytest.raises(PasswordInvalidError):
        s.existing_key(REPO_ID, "targets", lambda p: False)
    assert s.transcript == ""


def test_repository_variable_does_not_unlock_root() -> None:
    s = PromptSession({"DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE": "x" * 10})
    with pytest.raises(AttemptsExceededError):
        s.new_key(ROOT_ID, "root")
    assert "Enter passphrase for new root key" in s.transcript


def test_display_alias() -> None:
    assert [display_alias(a) for a in ("root", "targets", "snapshot", "alice")] == \
        ["root", "repository", "repository", "alice"]
