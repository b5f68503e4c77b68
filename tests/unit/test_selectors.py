"""Label/field selectors: cases from apimachinery's labels/fields tests and the apiserver's 400 texts."""

from __future__ import annotations

import pytest

from labhelpers.sandbox.apiserver import resources as res
from labhelpers.sandbox.apiserver.errors import ApiError
from labhelpers.sandbox.apiserver.selectors import (
    LabelSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
    selector_from_label_selector,
    selector_to_string,
)

PODS = res.lookup("", "v1", "pods")
EVENTS = res.lookup("", "v1", "events")
SECRETS = res.lookup("", "v1", "secrets")
NAMESPACES = res.lookup("", "v1", "namespaces")
JOBS = res.lookup("batch", "v1", "jobs")
DEPLOYMENTS = res.lookup("apps", "v1", "deployments")
REPLICASETS = res.lookup("apps", "v1", "replicasets")
CLUSTERROLES = res.lookup("rbac.authorization.k8s.io", "v1", "clusterroles")


def bad_request(fn, *args) -> str:
    with pytest.raises(ApiError) as exc:
        fn(*args)
    assert exc.value.code == 400 and exc.value.reason == "BadRequest"
    return exc.value.message


# --- label selector grammar (TestSelectorParse / TestSetSelectorParser) ---

@pytest.mark.parametrize("text", ["x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ", "x= ,z= ", "!x", "x>1",
                                  "x>1,z<5"])
def test_round_trips_without_spaces(text):
    assert str(parse_label_selector(text)) == text.replace(" ", "")


@pytest.mark.parametrize("text,expected", [
    ("\rx", "x"),
    ("this-is-a-dns.domain.com/key-with-dash", "this-is-a-dns.domain.com/key-with-dash"),
    ("0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)", "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)"),
    ("foo  in\t (abc)", "foo in (abc)"),
    ("x notin\n (abc)", "x notin (abc)"),
    ("x in (abc,)", "x in (,abc)"),
    ("x in ()", "x in ()"),
    ("x notin (abc,,def),bar,z in (),w", "bar,w,x notin (,abc,def),z in ()"),
    ("x notin ( )", "x notin ()"),
    ("x notin (, a)", "x notin (,a)"),
    ("a ", "a"),
    ("a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)"),
    ("x=a,a=x", "a=x,x=a"),
])
def test_parses_and_sorts_by_key(text, expected):
    assert str(parse_label_selector(text)) == expected


@pytest.mark.parametrize("text,message", [
    ("x==a==b", "found '==', expected: ',' or 'end of string'"),
    ("!x=a", "found '=', expected: ',' or 'end of string'"),
    ("x<a", "unable to parse requirement: values[0]: Invalid value: \"a\": "
            "for 'Gt', 'Lt' operators, the value must be an integer"),
    ("x,,y", "found ',', expected: identifier after ','"),
    (",x,y", "found ',', expected: !, identifier, or 'end of string'"),
    ("x nott in (y)", "unable to parse requirement: found 'nott', expected: in, notin, =, ==, !=, gt, lt"),
    ("a in (xyz),", "found '', expected: identifier after ','"),
    ("a in (xyz)b notin ()", "found 'b', expected: ',' or 'end of string'"),
    ("a in (xyz abc)", "unable to parse requirement: found 'abc', expected: ',' or ')'"),
    ("a notin(", "unable to parse requirement: found '', expected: ',', ')' or identifier"),
    ("(", "found '(', expected: !, identifier, or 'end of string'"),
])
def test_syntax_errors_are_400_with_apimachinery_text(text, message):
    assert bad_request(parse_label_selector, text) == message


def test_invalid_value_names_the_value_path_and_key():
    msg = bad_request(parse_label_selector, "app=x_")
    assert msg == ("unable to parse requirement: values[0][app]: Invalid value: \"x_\": a valid label must be an "
                   "empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
                   "an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
                   "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


def test_invalid_key_uses_the_nil_path():
    msg = bad_request(parse_label_selector, "component+kube-apiserver,tier")
    assert msg == ("unable to parse requirement: <nil>: Invalid value: \"component+kube-apiserver\": name part must "
                   "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
                   "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                   "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


def test_too_long_value_reports_both_rules():
    msg = bad_request(parse_label_selector, "a=" + "b" * 64)
    assert "must be no more than 63 characters" in msg and msg.startswith("unable to parse requirement: values[0][a]")


# --- matching (TestSelectorMatches / TestRequirementSelectorMatching) ---

@pytest.mark.parametrize("text,labels,match", [
    ("", {"x": "y"}, True),
    ("x=y", {"x": "y"}, True),
    ("x=y,z=w", {"x": "y", "z": "w"}, True),
    ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
    ("notin=in", {"notin": "in"}, True),
    ("x", {"x": "z"}, True),
    ("!x", {"y": "z"}, True),
    ("x>1", {"x": "2"}, True),
    ("x<1", {"x": "0"}, True),
    ("x=z", {}, False),
    ("x=y", {"x": "z"}, False),
    ("x=y,z=w", {"x": "w", "z": "w"}, False),
    ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
    ("x", {"y": "z"}, False),
    ("!x", {"x": "z"}, False),
    ("x>1", {"x": "0"}, False),
    ("x<1", {"x": "2"}, False),
    ("z>1", {"z": "v2"}, False),
    ("foo=bar,foobar=bar,baz=blah", {"foo": "bar", "baz": "blah"}, False),
    ("x in (foo),y notin (alpha)", {"x": "foo", "y": "baz"}, True),
    ("x notin (),y", {"y": ""}, True),
    ("x notin (),!y", {"y": ""}, False),
    ("x in ()", {"y": "baz"}, False),
    ("app in (web, api)", {"app": "api"}, True),
    ("app notin (web)", {}, True),
])
def test_matches(text, labels, match):
    assert parse_label_selector(text).matches(labels) is match


def test_matches_treats_missing_labels_as_empty():
    assert parse_label_selector("!app").matches(None)
    assert not parse_label_selector("app").matches(None)


# --- metav1.LabelSelector ---

def test_label_selector_object_to_selector():
    sel = selector_from_label_selector({
        "matchLabels": {"tier": "web", "app": "shop"},
        "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]},
                             {"key": "canary", "operator": "DoesNotExist"}],
    })
    assert str(sel) == "app=shop,!canary,env in (dev,prod),tier=web"
    assert sel.matches({"app": "shop", "tier": "web", "env": "dev"})
    assert not sel.matches({"app": "shop", "tier": "web", "env": "dev", "canary": "1"})


def test_nil_selects_nothing_and_empty_selects_everything():
    nothing = selector_from_label_selector(None)
    assert not nothing.matches({"a": "b"}) and not nothing.empty() and str(nothing) == ""
    everything = selector_from_label_selector({})
    assert everything.matches({"a": "b"}) and everything.empty()
    assert LabelSelector().matches({})


def test_bad_operator_and_format_label_selector():
    with pytest.raises(SelectorError, match='"Foo" is not a valid label selector operator'):
        selector_from_label_selector({"matchExpressions": [{"key": "a", "operator": "Foo"}]})
    assert selector_to_string({"matchExpressions": [{"key": "a", "operator": "Foo"}]}) == "<error>"
    assert selector_to_string(None) == "<none>"
    assert selector_to_string({"matchLabels": {"app": "web"}}) == "app=web"
    with pytest.raises(SelectorError, match="values set can't be empty"):
        selector_from_label_selector({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]})


# --- field selectors ---

def pod(name="p1", ns="default", node="n1", phase="Running"):
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"nodeName": node, "restartPolicy": "Always"},
            "status": {"phase": phase, "podIPs": [{"ip": "10.0.0.9"}]}}


def test_field_selector_terms_and_matching():
    sel = parse_field_selector("status.phase!=Running,metadata.name=p1", PODS)
    assert str(sel) == "metadata.name=p1,status.phase!=Running"  # terms are sorted, like fields.ParseSelector
    assert not sel.matches(pod())
    assert sel.matches(pod(phase="Pending"))
    assert parse_field_selector("metadata.name==p1", PODS).matches(pod())
    assert parse_field_selector("", PODS).matches(pod()) and parse_field_selector("", PODS).empty()


def test_pod_fields():
    assert parse_field_selector("spec.nodeName=n1,status.podIP=10.0.0.9", PODS).matches(pod())
    assert parse_field_selector("spec.hostNetwork=false", PODS).matches(pod())
    assert parse_field_selector("spec.host=n1", PODS).terms[0].field == "spec.nodeName"
    # accepted by the conversion but never set by PodToSelectableFields: matches only the empty value
    assert not parse_field_selector("status.podIPs=10.0.0.9", PODS).matches(pod())


def test_event_fields_for_kubectl_describe():
    ev = {"metadata": {"name": "e", "namespace": "lab"}, "reason": "Pulled", "type": "Normal",
          "involvedObject": {"kind": "Pod", "namespace": "lab", "name": "p1", "uid": "u-1"},
          "reportingComponent": "kubelet"}
    sel = parse_field_selector("involvedObject.namespace=lab,involvedObject.uid=u-1,involvedObject.name=p1", EVENTS)
    assert sel.matches(ev)
    assert parse_field_selector("source=kubelet", EVENTS).matches(ev)  # falls back to reportingComponent
    assert not parse_field_selector("involvedObject.name=p2", EVENTS).matches(ev)


def test_secret_namespace_and_job_fields():
    assert parse_field_selector("type=kubernetes.io/dockerconfigjson", SECRETS).matches(
        {"metadata": {"name": "s"}, "type": "kubernetes.io/dockerconfigjson"})
    assert parse_field_selector("status.phase=Terminating,metadata.name=x", NAMESPACES).matches(
        {"metadata": {"name": "x"}, "status": {"phase": "Terminating"}})
    assert parse_field_selector("status.successful=0", JOBS).matches({"metadata": {"name": "j"}})


@pytest.mark.parametrize("rt,text,message", [
    (PODS, "foo=bar", "field label not supported: foo"),
    (EVENTS, "involvedObject.foo=x", "field label not supported: involvedObject.foo"),
    (NAMESPACES, "metadata.namespace=x", "field label not supported: metadata.namespace"),
    (JOBS, "status.replicas=1", 'field label "status.replicas" not supported for batchv1.Job'),
    (DEPLOYMENTS, "status.replicas=1",
     '"status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    (REPLICASETS, "spec.replicas=1",
     '"spec.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    (PODS, "x", "invalid selector: 'x'; can't understand 'x'"),
    (PODS, "metadata.name=a=b", "invalid field selector: unescaped character in value: 61"),
    (PODS, "metadata.name=a\\b", "invalid field selector: invalid escape sequence: \\b"),
    # terms are checked in sorted order, so the first unsupported label in that order is reported
    (PODS, "zzz=1,aaa=2", "field label not supported: aaa"),
])
def test_field_selector_errors(rt, text, message):
    assert bad_request(parse_field_selector, text, rt) == message


def test_escaped_values_and_cluster_scoped_defaults():
    sel = parse_field_selector("metadata.name=a\\,b", PODS)
    assert sel.matches(pod(name="a,b"))
    # the generic conversion accepts metadata.namespace for cluster-scoped kinds; it only matches ""
    cr = {"metadata": {"name": "admin"}}
    assert parse_field_selector("metadata.namespace=", CLUSTERROLES).matches(cr)
    assert not parse_field_selector("metadata.namespace=x", CLUSTERROLES).matches(cr)


def test_custom_resources_follow_crconverter():
    crd = res.ResourceType("kyverno.io", "v1", "ClusterPolicy", "clusterpolicies", namespaced=False, custom=True)
    assert bad_request(parse_field_selector, "metadata.namespace=x", crd) == \
        "field label not supported: metadata.namespace"
    assert parse_field_selector("metadata.name=p", crd).matches({"metadata": {"name": "p"}})
