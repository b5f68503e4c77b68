"""Strategic merge patch against upstream semantics.

The generic cases use a test type shaped like apimachinery's MergeItem test struct (registered as a custom
schema); the expected results are the outcomes apimachinery's own patch tests assert. The Kubernetes cases use
the real Pod/ServiceAccount/Deployment definitions.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from labhelpers.sandbox.apiserver import schemas
from labhelpers.sandbox.apiserver.smp import SMPError, apply_strategic_merge_patch, go_v, json_merge_patch

GROUP = "smp-test.example.com"


def _item_schema() -> dict:
    me = schemas.REF_PREFIX + schemas.custom_definition_name(GROUP, "v1", "MergeItem")
    retain = schemas.REF_PREFIX + schemas.custom_definition_name(GROUP, "v1", "RetainKeysItem")
    merging = {"type": "array", "items": {"$ref": me}, "x-kubernetes-patch-strategy": "merge",
               "x-kubernetes-patch-merge-key": "name"}
    return {
        "type": "object",
        "properties": {
            "name": {"type": "string"}, "value": {"type": "string"}, "other": {"type": "string"},
            "mergingList": merging,
            "nonMergingList": {"type": "array", "items": {"$ref": me}},
            "mergingIntList": {"type": "array", "items": {"type": "integer"}, "x-kubernetes-patch-strategy": "merge"},
            "nonMergingIntList": {"type": "array", "items": {"type": "integer"}},
            "mergeItemPtr": merging,
            "simpleMap": {"type": "object", "additionalProperties": {"type": "string"}},
            "replacingItem": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                              "x-kubernetes-patch-strategy": "replace"},
            "retainKeysMap": {"allOf": [{"$ref": retain}], "x-kubernetes-patch-strategy": "retainKeys"},
            "retainKeysMergingList": {**merging, "x-kubernetes-patch-strategy": "merge,retainKeys"},
        },
    }


def _retain_schema() -> dict:
    me = schemas.REF_PREFIX + schemas.custom_definition_name(GROUP, "v1", "MergeItem")
    return {"type": "object", "properties": {
        "name": {"type": "string"}, "value": {"type": "string"}, "other": {"type": "string"},
        "simpleMap": {"type": "object", "additionalProperties": {"type": "string"}},
        "mergingIntList": {"type": "array", "items": {"type": "integer"}, "x-kubernetes-patch-strategy": "merge"},
        "mergingList": {"type": "array", "items": {"$ref": me}, "x-kubernetes-patch-strategy": "merge",
                        "x-kubernetes-patch-merge-key": "name"},
        "nonMergingList": {"type": "array", "items": {"$ref": me}},
    }}


@pytest.fixture(scope="module")
def item() -> str:
    schemas.register_custom(GROUP, "v1", "RetainKeysItem", _retain_schema())
    return schemas.register_custom(GROUP, "v1", "MergeItem", _item_schema())


def apply(original: str | dict, patch: str | dict, definition: str | None) -> dict:
    o = yaml.safe_load(original) if isinstance(original, str) else original
    p = yaml.safe_load(patch) if isinstance(patch, str) else patch
    return apply_strategic_merge_patch(o or {}, p, definition)


def y(text: str) -> dict:
    return yaml.safe_load(text)


# (original, patch, expected) -- outcomes asserted by apimachinery's patch tests.
GENERIC_CASES = {
    "unique scalars when merging lists": (
        "mergingIntList: [1, 2]", "mergingIntList: [2, 3]", "mergingIntList: [1, 2, 3]"),
    "delete map from nested map": (
        "simpleMap: {key1: '1', key2: '1'}", "simpleMap: {$patch: delete}", "simpleMap: {}"),
    "delete all items from merging list": (
        "mergingList: [{name: 1}, {name: 2}]", "mergingList: [{$patch: replace}]", "mergingList: []"),
    "merge empty merging lists": ("mergingList: []", "mergingList: []", "mergingList: []"),
    "delete all keys from map": ("{name: 1, value: 1}", "{$patch: replace}", "{}"),
    "add key and delete all keys from map": ("{name: 1, value: 1}", "{other: a, $patch: replace}", "{other: a}"),
    "de-duplicate entries in a merging list": (
        "mergingList: [{name: 1}, {name: 1}, {name: 2, value: a}, {name: 3}, {name: 3}]",
        "mergingList: [{name: 1, $patch: delete}, {name: 3, $patch: delete}]",
        "mergingList: [{name: 2, value: a}]"),
    "retainKeys map can add a field when no retainKeys directive present": (
        "retainKeysMap: {name: foo}", "retainKeysMap: {value: bar}", "retainKeysMap: {name: foo, value: bar}"),
    "retainKeys map can delete a field when no retainKeys directive present": (
        "retainKeysMap: {name: foo, value: a}", "retainKeysMap: {value: null}", "retainKeysMap: {name: foo}"),
    "retainKeys list can change a field when no retainKeys directive present": (
        "retainKeysMergingList: [{name: bar}, {name: foo, value: a}]",
        "retainKeysMergingList: [{name: foo, value: b}]",
        "retainKeysMergingList: [{name: bar}, {name: foo, value: b}]"),
    "preserve the order from the patch in a merging list": (
        "mergingList: [{name: 1}, {name: 2, value: b}, {name: 3}]",
        "mergingList: [{name: 3, value: c}, {name: 1, value: a}, {name: 2, other: x}]",
        "mergingList: [{name: 3, value: c}, {name: 1, value: a}, {name: 2, value: b, other: x}]"),
    "preserve the order from the patch in a merging list 2": (
        "mergingList: [{name: 1}, {name: 2, value: b}, {name: 3}]",
        "mergingList: [{name: 3, value: c}, {name: 1, value: a}]",
        "mergingList: [{name: 2, value: b}, {name: 3, value: c}, {name: 1, value: a}]"),
    "preserve the order from the patch in a merging int list": (
        "mergingIntList: [1, 2, 3]", "mergingIntList: [3, 1, 2]", "mergingIntList: [3, 1, 2]"),
    "preserve the order from the patch in a merging int list 2": (
        "mergingIntList: [1, 2, 3]", "mergingIntList: [3, 1]", "mergingIntList: [2, 3, 1]"),
    "setElementOrder names an item missing from the list": (
        "mergingList: [{name: 1}, {name: 3}]",
        "{$setElementOrder/mergingList: [{name: 3}, {name: 2}, {name: 1}],"
        " mergingList: [{name: 3, value: '3'}, {name: 1, value: '1'}]}",
        "mergingList: [{name: 3, value: '3'}, {name: 1, value: '1'}]"),
    "setElementOrder names an int missing from the list": (
        "mergingIntList: [1, 3]", "$setElementOrder/mergingIntList: [3, 2, 1]", "mergingIntList: [3, 1]"),
    "nil original": ("{}", "{name: 1, value: 1}", "{name: 1, value: 1}"),
    "add field and delete field from map": ("{name: 1, other: a}", "{name: null, value: 1}", "{value: 1, other: a}"),
    "delete field from nested map": (
        "simpleMap: {key1: '1', key2: '1', other: a}", "simpleMap: {key2: null}",
        "simpleMap: {key1: '1', other: a}"),
    "replace list of scalars": ("nonMergingIntList: [1, 4]", "nonMergingIntList: [2, 3]", "nonMergingIntList: [2, 3]"),
    "delete all maps from merging list": (
        "mergingList: [{name: 1, other: a}, {name: 2, other: b}]",
        "mergingList: [{name: 1, $patch: delete}, {name: 2, $patch: delete}]", "mergingList: []"),
    "unmatched nulls are dropped": ("{name: a, other: a}", "{name: 1, value: 1, other: null}", "{name: 1, value: 1}"),
    "delete items in lists of scalars": (
        "mergingIntList: [1, 2, 3, 4]",
        "{$setElementOrder/mergingIntList: [1, 2], $deleteFromPrimitiveList/mergingIntList: [3]}",
        "mergingIntList: [1, 2, 4]"),
    "delete all duplicate items in lists of scalars": (
        "mergingIntList: [1, 2, 3, 3, 4]",
        "{$setElementOrder/mergingIntList: [1, 2], $deleteFromPrimitiveList/mergingIntList: [3]}",
        "mergingIntList: [1, 2, 4]"),
    "add and delete items in lists of scalars": (
        "mergingIntList: [1, 2, 3]",
        "{$setElementOrder/mergingIntList: [1, 2, 4], $deleteFromPrimitiveList/mergingIntList: [3],"
        " mergingIntList: [4]}",
        "mergingIntList: [1, 2, 4]"),
    "merge lists of maps with setElementOrder": (
        "mergingList: [{name: 1, other: a}, {name: 2, value: '2', other: b}]",
        "{$setElementOrder/mergingList: [{name: 4}, {name: 1}, {name: 2}, {name: 3}],"
        " mergingList: [{name: 4, value: '4'}, {name: 3, value: '3'}]}",
        "mergingList: [{name: 4, value: '4'}, {name: 1, other: a}, {name: 2, value: '2', other: b},"
        " {name: 3, value: '3'}]"),
    "retainKeys map deletes nested merging int list": (
        "retainKeysMap: {name: foo, mergingIntList: [1, 2, 3]}",
        "retainKeysMap: {$retainKeys: [name], mergingIntList: null}", "retainKeysMap: {name: foo}"),
    "retainKeys map adds an item in nested merging list": (
        "retainKeysMap: {name: foo, mergingList: [{name: a}, {name: b}, {name: x}]}",
        "retainKeysMap: {$retainKeys: [mergingList, name],"
        " $setElementOrder/mergingList: [{name: a}, {name: b}, {name: c}], mergingList: [{name: c}]}",
        "retainKeysMap: {name: foo, mergingList: [{name: a}, {name: b}, {name: c}, {name: x}]}"),
    "retainKeys map deletes an item in nested merging list": (
        "retainKeysMap: {name: foo, mergingList: [{name: a}, {name: b}, {name: x}]}",
        "retainKeysMap: {$retainKeys: [mergingList, name], $setElementOrder/mergingList: [{name: a}],"
        " mergingList: [{name: b, $patch: delete}]}",
        "retainKeysMap: {name: foo, mergingList: [{name: a}, {name: x}]}"),
    "retainKeys map clears unlisted fields": (
        "retainKeysMap: {name: foo, other: x, mergingList: [{name: a}]}",
        "retainKeysMap: {$retainKeys: [name, value], value: bar, mergingList: null}",
        "retainKeysMap: {name: foo, value: bar}"),
    "retainKeys list of maps clears a field": (
        "retainKeysMergingList: [{name: bar}, {name: foo, value: new, other: x}]",
        "{$setElementOrder/retainKeysMergingList: [{name: bar}, {name: foo}],"
        " retainKeysMergingList: [{$retainKeys: [name, value], name: foo, value: modified}]}",
        "retainKeysMergingList: [{name: bar}, {name: foo, value: modified}]"),
    "delete and reorder in one list, reorder in another": (
        "{mergingList: [{name: a, value: a}, {name: b, value: b}],"
        " mergeItemPtr: [{name: c, value: c}, {name: d, value: d}]}",
        "{$setElementOrder/mergingList: [{name: b}], $setElementOrder/mergeItemPtr: [{name: d}, {name: c}],"
        " mergingList: [{$patch: delete, name: a}]}",
        "{mergingList: [{name: b, value: b}], mergeItemPtr: [{name: d, value: d}, {name: c, value: c}]}"),
    "replace strategy swaps a map wholesale": (
        "replacingItem: {a: 1, b: 2}", "replacingItem: {c: 3}", "replacingItem: {c: 3}"),
    "new merging list items come first without setElementOrder": (
        "mergingList: [{name: a}, {name: b}]", "mergingList: [{name: c}]",
        "mergingList: [{name: c}, {name: a}, {name: b}]"),
}


@pytest.mark.parametrize("case", sorted(GENERIC_CASES))
def test_upstream_vectors(item: str, case: str) -> None:
    original, patch, expected = GENERIC_CASES[case]
    assert apply(original, patch, item) == y(expected)


@pytest.mark.parametrize(("original", "patch", "message"), [
    ("mergingList: [{name: 1}, {name: 3}, {name: 2}]",
     "{$setElementOrder/mergingList: [{name: 1}, {name: 2}, {name: 3}],"
     " mergingList: [{name: 3, value: '3'}, {name: 1, value: '1'}]}",
     "the order in patch list:\n[map[name:3 value:3] map[name:1 value:1]]\n doesn't match $setElementOrder list:\n"
     "[map[name:1] map[name:2] map[name:3]]"),
    ("mergingIntList: [1, 3, 2]", "{$setElementOrder/mergingIntList: [1, 2, 3], mergingIntList: [3, 1]}",
     "the order in patch list:\n[3 1]\n doesn't match $setElementOrder list:\n[1 2 3]"),
    ("mergingList: [{name: 1, value: a}]", "mergingList: [{value: b}]",
     "map: map[value:b] does not contain declared merge key: name"),
    ("mergingList: [{name: 1}]", "mergingList: [{name: 1, $patch: merge}]",
     "merging lists cannot yet be specified in the patch"),
    ("mergingList: [{name: 1}]", "mergingList: [{name: 1, $patch: nope}]",
     "unknown patch type: nope in map: map[$patch:nope name:1]"),
    ("simpleMap: {a: b}", "simpleMap: {$patch: merge, c: d}", "unknown patch type: merge in map: map[$patch:merge c:d]"),
    ("mergingIntList: [1]", "mergingIntList: ['a']", "list element types are not identical: [[1] [a]]"),
])
def test_errors_carry_apimachinery_messages(item: str, original: str, patch: str, message: str) -> None:
    with pytest.raises(SMPError) as err:
        apply(original, patch, item)
    assert str(err.value) == message
    assert err.value.status == 500


@pytest.mark.parametrize(("patch", "message", "status"), [
    ({"$deleteFromPrimitiveListmergingIntList": [1]}, "invalid patch format of primitive list", 400),
    ({"$retainKeys": "name"}, "invalid patch format of retainKeys", 400),
    ({"$retainKeys": ["name"], "value": "x"}, "invalid patch format of retainKeys", 400),
    ({"$setElementOrdermergingList": []}, "invalid patch format of setElementOrder list", 400),
    ({"nonMergingIntList": [[1]], "mergingIntList": [[1]]}, "lists of lists are not supported", 422),
    ([1, 2], "json: cannot unmarshal array into Go value of type map[string]interface {}", 400),
])
def test_malformed_patches_map_to_http_codes(item: str, patch, message: str, status: int) -> None:
    with pytest.raises(SMPError) as err:
        apply_strategic_merge_patch({"name": "a", "mergingIntList": [[2]]}, patch, item)
    assert (str(err.value), err.value.status) == (message, status)
    assert isinstance(err.value, ValueError)


# --- real Kubernetes types ----------------------------------------------------------------------------------

POD = "io.k8s.api.core.v1.Pod"
SA = "io.k8s.api.core.v1.ServiceAccount"


def _pod() -> dict:
    return y("""
apiVersion: v1
kind: Pod
metadata: {name: p, labels: {app: web, tier: fe}, finalizers: [a/b]}
spec:
  imagePullSecrets: [{name: regcred}]
  containers:
  - {name: app, image: 'nginx:1', ports: [{containerPort: 80, protocol: TCP}], env: [{name: A, value: '1'}]}
  - {name: side, image: busybox}
""")


def test_serviceaccount_image_pull_secrets_are_replaced() -> None:
    sa = y("{metadata: {name: default}, imagePullSecrets: [{name: old}], secrets: [{name: tok}]}")
    out = apply_strategic_merge_patch(sa, {"imagePullSecrets": [{"name": "dockerhub"}]}, SA)
    assert out["imagePullSecrets"] == [{"name": "dockerhub"}]
    # ServiceAccount.secrets merges by name, unlike imagePullSecrets.
    out = apply_strategic_merge_patch(sa, {"secrets": [{"name": "other"}]}, SA)
    assert out["secrets"] == [{"name": "other"}, {"name": "tok"}]


def test_pod_image_pull_secrets_merge_by_name() -> None:
    out = apply_strategic_merge_patch(_pod(), {"spec": {"imagePullSecrets": [{"name": "dockerhub"}]}}, POD)
    assert out["spec"]["imagePullSecrets"] == [{"name": "dockerhub"}, {"name": "regcred"}]


def test_kubectl_apply_style_patch_updates_one_container() -> None:
    patch = {"metadata": {"labels": {"tier": None}},
             "spec": {"$setElementOrder/containers": [{"name": "app"}, {"name": "side"}],
                      "containers": [{"name": "app", "image": "nginx:2"}]}}
    out = apply_strategic_merge_patch(_pod(), patch, POD)
    assert out["metadata"]["labels"] == {"app": "web"}
    app, side = out["spec"]["containers"]
    assert app == {"name": "app", "image": "nginx:2", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                   "env": [{"name": "A", "value": "1"}]}
    assert side == {"name": "side", "image": "busybox"}


def test_container_delete_directive_and_nested_merge_keys() -> None:
    patch = {"spec": {"containers": [{"name": "side", "$patch": "delete"},
                                     {"name": "app", "env": [{"name": "B", "value": "2"}],
                                      "ports": [{"containerPort": 443}]}]}}
    out = apply_strategic_merge_patch(_pod(), patch, POD)
    (app,) = out["spec"]["containers"]
    assert app["env"] == [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]
    assert app["ports"] == [{"containerPort": 443}, {"containerPort": 80, "protocol": "TCP"}]


def test_finalizers_merge_as_a_set_and_delete_from_primitive_list() -> None:
    out = apply_strategic_merge_patch(_pod(), {"metadata": {"finalizers": ["a/b", "c/d"]}}, POD)
    assert out["metadata"]["finalizers"] == ["a/b", "c/d"]
    out = apply_strategic_merge_patch(out, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a/b"]}}, POD)
    assert out["metadata"]["finalizers"] == ["c/d"]


def test_added_values_lose_nulls_and_directives() -> None:
    patch = {"spec": {"nodeSelector": {"disk": "ssd", "zone": None}, "affinity": {"nodeAffinity": None}},
             "status": {"conditions": [{"type": "Ready", "status": "True"}, {"$patch": "delete", "type": "X"}]}}
    out = apply_strategic_merge_patch(_pod(), patch, POD)
    assert out["spec"]["nodeSelector"] == {"disk": "ssd"}
    assert out["spec"]["affinity"] == {}
    assert out["status"]["conditions"] == [{"type": "Ready", "status": "True"}]


def test_deployment_template_containers_merge() -> None:
    dep = y("""
spec:
  replicas: 1
  template: {spec: {containers: [{name: app, image: 'a:1'}], volumes: [{name: v, emptyDir: {}}]}}
""")
    patch = {"spec": {"replicas": 3, "template": {"spec": {
        "containers": [{"name": "app", "image": "a:2"}],
        "volumes": [{"name": "v", "$retainKeys": ["name", "secret"], "secret": {"secretName": "s"}}]}}}}
    out = apply_strategic_merge_patch(dep, patch, "io.k8s.api.apps.v1.Deployment")
    assert out["spec"]["replicas"] == 3
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "app", "image": "a:2"}]
    # volumes merge by name with retainKeys: the old emptyDir source is cleared.
    assert out["spec"]["template"]["spec"]["volumes"] == [{"name": "v", "secret": {"secretName": "s"}}]


def test_inputs_are_not_modified() -> None:
    pod, patch = _pod(), {"spec": {"containers": [{"name": "app", "$patch": "delete"}]}}
    before = copy.deepcopy((pod, patch))
    apply_strategic_merge_patch(pod, patch, POD)
    assert (pod, patch) == before


def test_without_definition_it_is_a_json_merge_patch() -> None:
    original = {"spec": {"rules": [{"name": "a"}, {"name": "b"}], "keep": 1, "drop": 2}}
    patch = {"spec": {"rules": [{"name": "c"}], "drop": None, "new": {"x": None, "y": 1}}}
    expected = {"spec": {"rules": [{"name": "c"}], "keep": 1, "new": {"y": 1}}}
    assert apply_strategic_merge_patch(original, patch, None) == expected
    assert json_merge_patch({"a": 1}, "x") == "x"


def test_go_value_formatting() -> None:
    assert go_v({"b": [1, 2.5], "a": None, "c": True}) == "map[a:<nil> b:[1 2.5] c:true]"
    assert go_v(3.0) == "3"
