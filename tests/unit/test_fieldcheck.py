"""Strict field validation wording, as kube-apiserver's decoder produces it."""

from __future__ import annotations

import json

import pytest

from labhelpers.sandbox.apiserver import fieldcheck, schemas
from labhelpers.sandbox.apiserver.fieldcheck import (
    cannot_handle_message,
    check,
    duplicate_fields,
    go_base64_error,
    strict_decoding_message,
    strict_errors,
    type_errors,
    unknown_fields,
)

POD = "io.k8s.api.core.v1.Pod"
SECRET = "io.k8s.api.core.v1.Secret"
DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"


def pod(**spec_extra) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec_extra}}


def test_typo_in_container_field_is_reported_with_index_path() -> None:
    body = pod()
    body["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    assert unknown_fields(POD, body) == ["spec.containers[0].imagePullPolicyy"]
    errors = strict_errors(POD, body)
    assert errors == ['unknown field "spec.containers[0].imagePullPolicyy"']
    message = cannot_handle_message("Pod", "v1", strict_decoding_message(errors))
    assert message == ('Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
                       'unknown field "spec.containers[0].imagePullPolicyy"')


def test_several_unknown_fields_keep_document_order_and_join_with_commas() -> None:
    body = {"metadata": {"name": "p", "labelz": {}}, "spec": {"bogus": 1, "containers": [
        {"name": "a", "image": "i"}, {"name": "b", "image": "i", "imagee": "x"}]}, "extra": True}
    assert unknown_fields(POD, body) == ["metadata.labelz", "spec.bogus", "spec.containers[1].imagee", "extra"]
    assert strict_decoding_message(strict_errors(POD, body)) == (
        'strict decoding error: unknown field "metadata.labelz", unknown field "spec.bogus", '
        'unknown field "spec.containers[1].imagee", unknown field "extra"')


def test_known_fields_and_free_form_maps_are_fine() -> None:
    body = pod(nodeSelector={"disk": "ssd"}, imagePullSecrets=[{"name": "regcred"}])
    body["metadata"].update(labels={"any-key": "v"}, annotations={"x/y": "z"})
    body["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "500m", "memory": 1024}}
    body["spec"]["containers"][0]["ports"] = [{"containerPort": 8080, "name": "http"}]
    report = check(POD, body)
    assert (report.strict, report.decode_error, report.type_errors) == ([], None, [])


def test_unknown_nested_under_deployment_template() -> None:
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"replicass": 2, "selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}},
                                 "spec": {"containers": [{"name": "c", "image": "i", "imagePullSecret": "x"}]}}}}
    assert unknown_fields(DEPLOYMENT, dep) == ["spec.replicass", "spec.template.spec.containers[0].imagePullSecret"]


def test_case_matters() -> None:
    assert unknown_fields(POD, {"Spec": {}, "metadata": {"Name": "x"}}) == ["Spec", "metadata.Name"]


def test_duplicate_fields_need_the_raw_body() -> None:
    raw = b'{"metadata":{"name":"a","name":"b","labels":{"x":"1","x":"2"}},"spec":{"containers":[]},"kind":"Pod"}'
    assert duplicate_fields(POD, raw) == ["metadata.name", "metadata.labels.x"]
    assert strict_errors(POD, raw) == ['duplicate field "metadata.name"', 'duplicate field "metadata.labels.x"']
    # An unknown key given twice is reported once, as unknown.
    assert strict_errors(POD, '{"nope":1,"nope":2}') == ['unknown field "nope"']


def test_strict_errors_are_capped_at_100() -> None:
    body = {"metadata": {f"f{i}": 1 for i in range(150)}}
    assert len(strict_errors(POD, body)) == fieldcheck.MAX_STRICT_ERRORS
    assert len(unknown_fields(POD, body)) == 150


@pytest.mark.parametrize(("body", "error"), [
    ({"spec": {"containers": "nginx"}},
     "json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type []v1.Container"),
    ({"spec": {"containers": ["nginx"]}},
     "json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type v1.Container"),
    ({"spec": "x"}, "json: cannot unmarshal string into Go struct field Pod.spec of type v1.PodSpec"),
    ({"spec": {"containers": [{"name": "c", "image": 5}]}},
     "json: cannot unmarshal number into Go struct field Container.spec.containers.image of type string"),
    ({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": "80"}]}]}},
     "json: cannot unmarshal string into Go struct field ContainerPort.spec.containers.ports.containerPort"
     " of type int32"),
    ({"spec": {"hostNetwork": "yes"}},
     "json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool"),
    ({"metadata": {"labels": {"a": 1}}},
     "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"),
    ({"metadata": {"labels": ["a"]}},
     "json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string"),
    ({"spec": {"terminationGracePeriodSeconds": 1.5}},
     "json: cannot unmarshal number 1.5 into Go struct field PodSpec.spec.terminationGracePeriodSeconds"
     " of type int64"),
    ({"metadata": {"creationTimestamp": 5}},
     "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp of type string"),
    ({"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "lots"}}}]}},
     "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
    ({"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "5Q"}}}]}},
     "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
    ({"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "5kk"}}}]}},
     "unable to parse quantity's suffix"),
    ({"spec": {"containers": [{"name": "c", "livenessProbe": {"httpGet": {"port": 1.5}}}]}},
     "json: cannot unmarshal number 1.5 into Go struct field HTTPGetAction.spec.containers.livenessProbe.httpGet.port"
     " of type int32"),
])
def test_type_errors_use_go_wording(body: dict, error: str) -> None:
    assert check(POD, body).decode_error == error


def test_first_ordinary_type_error_wins_but_self_parsing_types_override() -> None:
    body = {"spec": {"hostNetwork": "yes", "containers": "x"}}
    assert type_errors(POD, body) == [
        "json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool",
        "json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type []v1.Container"]
    assert check(POD, body).decode_error == type_errors(POD, body)[0]
    body = {"spec": {"hostNetwork": "yes"}, "metadata": {"creationTimestamp": True}}
    assert check(POD, body).decode_error.endswith("ObjectMeta.metadata.creationTimestamp of type string")


def test_number_literals_from_raw_bodies_are_quoted_verbatim() -> None:
    raw = '{"spec":{"containers":[{"name":"c","ports":[{"containerPort":8e1}]}]}}'
    assert check(POD, raw).decode_error == ("json: cannot unmarshal number 8e1 into Go struct field "
                                            "ContainerPort.spec.containers.ports.containerPort of type int32")


def test_int_or_string_and_nulls_are_accepted() -> None:
    body = pod()
    body["spec"]["containers"][0]["livenessProbe"] = {"httpGet": {"port": "http"}, "tcpSocket": {"port": 80}}
    body["spec"]["nodeName"] = None
    body["metadata"]["labels"] = None
    assert check(POD, body).type_errors == []


def test_secret_data_must_be_base64() -> None:
    ok = {"data": {".dockerconfigjson": "eyJhdXRocyI6e319"}, "stringData": {"a": "plain"}}
    assert check(SECRET, ok).decode_error is None
    assert check(SECRET, {"data": {"a": "abcde"}}).decode_error == "illegal base64 data at input byte 4"
    assert check(SECRET, {"data": {"a": 5}}).decode_error == (
        "json: cannot unmarshal number into Go struct field Secret.data of type []uint8")
    assert cannot_handle_message("Secret", "v1", "illegal base64 data at input byte 4") == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 4')


@pytest.mark.parametrize(("text", "error"), [
    ("", None), ("YQ==", None), ("YWI=", None), ("YWJj", None), ("YW\nJj", None), ("YWJj\r\n", None),
    ("abcde", "illegal base64 data at input byte 4"),
    ("ab", "illegal base64 data at input byte 0"),
    ("abc", "illegal base64 data at input byte 0"),
    ("a!cd", "illegal base64 data at input byte 1"),
    ("YQ=", "illegal base64 data at input byte 3"),
    ("Y===", "illegal base64 data at input byte 1"),
    ("YQ==YQ==", "illegal base64 data at input byte 4"),
    ("YQ=x", "illegal base64 data at input byte 2"),
    ("a-_b", "illegal base64 data at input byte 1"),
])
def test_go_base64_offsets(text: str, error: str | None) -> None:
    assert go_base64_error(text) == error


def test_custom_kinds_prune_unknown_fields_but_have_no_type_errors() -> None:
    name = schemas.register_custom("fieldcheck-test.example.com", "v1", "Widget", {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"},
                                                                 "free": {"type": "object",
                                                                          "x-kubernetes-preserve-unknown-fields": True}}}},
    })
    body = {"apiVersion": "fieldcheck-test.example.com/v1", "kind": "Widget", "metadata": {"name": "w", "bad": 1},
            "spec": {"size": "big", "colour": "red", "free": {"anything": {"goes": 1}}}}
    report = check(name, body)
    assert report.unknown == ["metadata.bad", "spec.colour"]
    assert report.type_errors == []
    raw = json.dumps(body)[:-1] + ', "spec": {"free": {"k": 1, "k": 2}}}'
    assert duplicate_fields(name, raw) == ["spec", "spec.free.k"]


def test_custom_kind_without_schema_accepts_anything() -> None:
    name = schemas.register_custom("fieldcheck-test.example.com", "v1", "Blob", None)
    assert check(name, {"spec": {"x": 1}, "whatever": [1, {"a": 2}]}).strict == []


def test_patch_flavour_sorts_and_skips_map_keys() -> None:
    patched = {"spec": {"zeta": 1, "containers": [{"name": "c", "imagee": "x"}],
                        "overhead": {"cpu": "1"}, "alpha": True}}
    assert fieldcheck.patched_object_errors(POD, patched) == [
        'unknown field "spec.alpha"', 'unknown field "spec.containers[0].imagee"', 'unknown field "spec.zeta"']
    assert fieldcheck.patch_duplicate_errors('{"spec":{"a":1,"a":2},"x":[{"k":1,"k":1}]}') == [
        'duplicate field "spec.a"', 'duplicate field "x[0].k"']


def test_warn_mode_header_escapes_quotes() -> None:
    (warning,) = strict_errors(POD, {"spec": {"x": 1}})
    assert fieldcheck.warning_header(warning) == '299 - "unknown field \\"spec.x\\""'


@pytest.mark.parametrize(("quantity", "ok"), [
    ("500m", True), ("1Gi", True), ("1e3", True), (".5", True), ("2.", True), (1024, True), (0.25, True),
    ("1.2.3", False), ("+", False), ("", False), ("1Gb", False), (True, False)])
def test_quantity_shapes(quantity, ok: bool) -> None:
    body = {"spec": {"containers": [{"name": "c", "resources": {"requests": {"memory": quantity}}}]}}
    assert (check(POD, body).decode_error is None) is ok
