"""Deterministic OCI image construction (labhelpers.sandbox.registries.oci)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

import pytest

from labhelpers.sandbox.registries import oci


def test_sha256_digest_matches_hashlib() -> None:
    assert oci.sha256_digest(b"abc") == "sha256:" + hashlib.sha256(b"abc").hexdigest()


def test_build_is_byte_for_byte_reproducible() -> None:
    a = oci.build_image("docker.io/youruser/app:v1.0")
    b = oci.build_image("docker.io/youruser/app:v1.0")
    assert a.manifest == b.manifest
    assert a.config.data == b.config.data
    assert [x.data for x in a.layers] == [x.data for x in b.layers]
    assert a.digest == b.digest


def test_distinct_names_give_distinct_digests() -> None:
    names = ["docker.io/youruser/app:v1.0", "docker.io/youruser/app:v1.1", "ghcr.io/youruser/app:v1.0"]
    images = [oci.build_image(n) for n in names]
    assert len({i.digest for i in images}) == 3
    assert len({i.layers[0].digest for i in images}) == 3


def test_gzip_header_has_zero_mtime() -> None:
    layer = oci.build_image("x").layers[0].data
    assert layer[:2] == b"\x1f\x8b"
    assert layer[4:8] == b"\x00\x00\x00\x00"


def test_layer_contains_hello_file_with_fixed_metadata() -> None:
    layer = oci.build_image("docker.io/library/nginx:latest").layers[0].data
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["app", "app/hello.txt"]
        assert members[0].isdir() and members[0].mode == 0o755
        f = members[1]
        assert (f.mtime, f.uid, f.gid, f.mode) == (0, 0, 0, 0o644)
        assert tar.extractfile(f).read() == b"Hello from docker.io/library/nginx:latest\n"


def test_config_diff_id_is_digest_of_uncompressed_tar() -> None:
    img = oci.build_image("diff-id")
    config = json.loads(img.config.data)
    assert config["architecture"] == "amd64" and config["os"] == "linux"
    assert config["rootfs"] == {"type": "layers",
                                "diff_ids": [oci.sha256_digest(gzip.decompress(img.layers[0].data))]}
    assert config["rootfs"]["diff_ids"][0] != img.layers[0].digest


def test_manifest_references_config_and_layers() -> None:
    img = oci.build_image("manifest")
    m = json.loads(img.manifest)
    assert m["schemaVersion"] == 2
    assert m["mediaType"] == oci.OCI_MANIFEST
    assert m["config"] == {"mediaType": oci.OCI_CONFIG, "digest": img.config.digest, "size": len(img.config.data)}
    assert m["layers"] == [{"mediaType": oci.OCI_LAYER_GZIP, "digest": img.layers[0].digest,
                            "size": len(img.layers[0].data)}]
    assert img.blobs[-1] is img.config
    assert img.size == len(img.manifest) + img.config.size + img.layers[0].size


def test_custom_files_create_parent_directories_sorted() -> None:
    tar = oci.tar_bytes({"/b/c/z.txt": b"z", "a.txt": b"a"})
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        assert t.getnames() == ["a.txt", "b", "b/c", "b/c/z.txt"]


def test_canonical_json_is_sorted_and_compact() -> None:
    assert oci.canonical_json({"b": 1, "a": [1, 2]}) == b'{"a":[1,2],"b":1}'


@pytest.mark.parametrize("digest", [
    "sha256:" + "a" * 64,
    "sha512:" + "0" * 128,
])
def test_parse_digest_accepts_valid(digest: str) -> None:
    alg, hexpart = oci.parse_digest(digest)
    assert f"{alg}:{hexpart}" == digest


@pytest.mark.parametrize("digest", [
    "", "sha256", "sha256:", "sha256:" + "A" * 64, "sha256:" + "a" * 63, "md5:" + "a" * 32, "sha256:zz",
])
def test_parse_digest_rejects_invalid(digest: str) -> None:
    with pytest.raises(oci.InvalidDigestError):
        oci.parse_digest(digest)


def test_index_selects_linux_amd64() -> None:
    amd = oci.build_image("multi", architecture="amd64")
    arm = oci.build_image("multi", architecture="arm64")
    index = json.loads(oci.build_index([arm, amd]))
    assert index["mediaType"] == oci.OCI_INDEX
    entry = oci.select_platform(index)
    assert entry["digest"] == amd.digest
    assert entry["platform"] == {"architecture": "amd64", "os": "linux"}
    with pytest.raises(LookupError, match="no match for platform in manifest"):
        oci.select_platform(index, architecture="s390x")
