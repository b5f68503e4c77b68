"""The admission CEL environment: cel-go's compile errors, type checking, and evaluation on celpy."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from celpy import celtypes as ct

from labhelpers.sandbox.admission.vap import cel
from labhelpers.sandbox.admission.vap.cel_types import STRING, list_of
from labhelpers.sandbox.admission.vap.cel_values import AuthorizerVal

EXPR_START = ("{'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, "
              "BYTES, IDENTIFIER}")


def compile_error(expression: str, opts: cel.EnvOptions | None = None, result=(cel.BOOL,)) -> str:
    with pytest.raises(cel.CompileError) as info:
        cel.compile_expression(expression, opts or cel.EnvOptions(), result)
    return info.value.detail


def evaluate(expression: str, **variables: object) -> object:
    opts = cel.EnvOptions(params="params" in variables)
    program = cel.compile_expression(expression, opts, None)
    act = {k: cel.to_cel(v) for k, v in variables.items()}
    act.setdefault("authorizer", AuthorizerVal("lab-user", lambda user, verb, attrs: ("allow", "")))
    return program.evaluate(act)


def check(expression: str, **variables: object) -> bool:
    """A boolean expression's result (and that it really is a CEL bool)."""
    result = evaluate(expression, **variables)
    assert isinstance(result, ct.BoolType), result
    return bool(result)


def eval_error(expression: str, **variables: object) -> str:
    with pytest.raises(cel.EvalError) as info:
        evaluate(expression, **variables)
    return info.value.message


POD = {
    "metadata": {"name": "web", "labels": {"app": "web", "app.kubernetes.io/name": "web"}},
    "spec": {"containers": [{"name": "app", "image": "docker.io/youruser/app:v1"},
                            {"name": "proxy", "image": "nginx:latest"}], "replicas": 3},
}


# --- syntax errors: cel-go's ANTLR wording, positions and snippets (cel-go parser tests) ---

@pytest.mark.parametrize(("source", "expected"), [
    ("1 + $",
     "ERROR: <input>:1:5: Syntax error: token recognition error at: '$'\n | 1 + $\n | ....^\n"
     f"ERROR: <input>:1:6: Syntax error: mismatched input '<EOF>' expecting {EXPR_START}\n | 1 + $\n | .....^"),
    ("1 + 2\n3 +", "ERROR: <input>:2:1: Syntax error: mismatched input '3' expecting <EOF>\n | 3 +\n | ^"),
    ('{"a": 1}."a"',
     "ERROR: <input>:1:10: Syntax error: no viable alternative at input '.\"a\"'\n | {\"a\": 1}.\"a\"\n | .........^"),
    ('"\\xFh"',
     "ERROR: <input>:1:1: Syntax error: token recognition error at: '\"\\xFh'\n | \"\\xFh\"\n | ^\n"
     "ERROR: <input>:1:6: Syntax error: token recognition error at: '\"'\n | \"\\xFh\"\n | .....^\n"
     f"ERROR: <input>:1:7: Syntax error: mismatched input '<EOF>' expecting {EXPR_START}\n | \"\\xFh\"\n | ......^"),
    ("1.all(2, 3)", "ERROR: <input>:1:7: argument must be a simple name\n | 1.all(2, 3)\n | ......^"),
    ("{:a}",
     "ERROR: <input>:1:2: Syntax error: extraneous input ':' expecting {'[', '{', '}', '(', '.', ',', '-', '!', "
     "'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}\n | {:a}\n | .^\n"
     "ERROR: <input>:1:4: Syntax error: mismatched input '}' expecting ':'\n | {:a}\n | ...^"),
    ("-",
     "ERROR: <input>:1:2: Syntax error: no viable alternative at input '-'\n | -\n | .^\n"
     f"ERROR: <input>:1:2: Syntax error: mismatched input '<EOF>' expecting {EXPR_START}\n | -\n | .^"),
    ("a | b",
     "ERROR: <input>:1:3: Syntax error: token recognition error at: '| '\n | a | b\n | ..^\n"
     "ERROR: <input>:1:5: Syntax error: extraneous input 'b' expecting <EOF>\n | a | b\n | ....^"),
    ("as", "ERROR: <input>:1:1: reserved identifier: as\n | as\n | ^"),
    ("      '😁' in ['😁', '😑', '😦']\n\t\t\t&& in.😁",
     f"ERROR: <input>:2:7: Syntax error: extraneous input 'in' expecting {EXPR_START}\n"
     " |    && in.😁\n | ......^\n"
     "ERROR: <input>:2:10: Syntax error: token recognition error at: '😁'\n |    && in.😁\n | .........＾\n"
     "ERROR: <input>:2:11: Syntax error: no viable alternative at input '.'\n |    && in.😁\n | .........．^"),
])
def test_syntax_errors_read_like_cel_go(source: str, expected: str) -> None:
    assert compile_error(source) == "compilation failed: " + expected


def test_a_missing_closing_parenthesis_is_reported_at_the_end() -> None:
    expr = "object.spec.containers.all(c, c.image.startsWith('docker.io/youruser/')"
    assert compile_error(expr) == (
        "compilation failed: ERROR: <input>:1:72: Syntax error: missing ')' at '<EOF>'\n"
        f" | {expr}\n | {'.' * 71}^")


def test_a_dangling_operator_expects_an_operand() -> None:
    assert compile_error("object.spec.hostNetwork ||").startswith(
        f"compilation failed: ERROR: <input>:1:27: Syntax error: mismatched input '<EOF>' expecting {EXPR_START}")


def test_has_needs_a_field_selection() -> None:
    assert compile_error("has(object)") == (
        "compilation failed: ERROR: <input>:1:5: invalid argument to has() macro\n | has(object)\n | ....^")


# --- type checking ---

def test_unknown_function_is_an_undeclared_reference_at_its_call() -> None:
    expr = "object.spec.containers.all(c, c.image.startswith('x'))"
    assert compile_error(expr) == (
        "compilation failed: ERROR: <input>:1:49: undeclared reference to 'startswith' (in container '')\n"
        f" | {expr}\n | {'.' * 48}^")


def test_unknown_variable_and_typed_fields() -> None:
    assert compile_error("foo == 1").startswith(
        "compilation failed: ERROR: <input>:1:1: undeclared reference to 'foo' (in container '')")
    assert compile_error("request.foo == 'x'").startswith("compilation failed: ERROR: <input>:1:8: undefined field 'foo'")
    assert compile_error("namespaceObject.metadata.uid == ''").startswith(
        "compilation failed: ERROR: <input>:1:25: undefined field 'uid'")


def test_overloads_are_checked_statically_where_types_are_known() -> None:
    assert compile_error("1 + 'a' == 2").startswith(
        "compilation failed: ERROR: <input>:1:3: found no matching overload for '_+_' applied to '(int, string)'")
    assert compile_error("object.metadata.name.startsWith(1)").startswith(
        "compilation failed: ERROR: <input>:1:32: found no matching overload for 'startsWith' applied to 'dyn.(int)'")
    assert compile_error("[1, 2].all(x, x)").startswith(
        "compilation failed: ERROR: <input>:1:11: found no matching overload for '_&&_' applied to '(bool, int)'")


def test_result_type_must_match() -> None:
    assert compile_error("object.spec.paused") == "must evaluate to bool but got dyn"
    assert compile_error("object.spec.containers.map(c, c.image)") == "must evaluate to bool but got list(dyn)"
    assert compile_error("object.metadata.name", result=(STRING,)) == "must evaluate to string but got dyn"
    assert cel.compile_expression("'name: ' + object.metadata.name", cel.EnvOptions(), (STRING,)).output_type == STRING


def test_optional_variables_depend_on_the_field() -> None:
    assert "undeclared reference to 'params'" in compile_error("params.x == 1")
    assert cel.compile_expression("params.x == 1", cel.EnvOptions(params=True))
    assert "undeclared reference to 'authorizer'" in compile_error("authorizer.path('/x').check('get').allowed()",
                                                                   cel.EnvOptions(authorizer=False))
    assert "undeclared reference to 'variables'" in compile_error("variables.x")
    with_vars = cel.EnvOptions(variables=(("images", list_of(STRING)),))
    assert "undefined field 'other'" in compile_error("variables.other == 1", with_vars)
    assert cel.compile_expression("variables.images.all(i, i.contains(':'))", with_vars).output_type == cel.BOOL


# --- evaluation ---

def test_registry_allow_list_over_all_containers() -> None:
    expr = ("object.spec.containers.all(c, c.image.startsWith('docker.io/youruser/') || "
            "c.image.startsWith('gcr.io/yourproject/') || c.image.startsWith('myregistry.com/'))")
    assert not check(expr, object=POD)
    good = {"spec": {"containers": [{"name": "a", "image": "myregistry.com/app:1"}]}}
    assert check(expr, object=good)


def test_missing_fields_fail_like_cel_go() -> None:
    assert eval_error("object.spec.volumes.size() > 0", object=POD) == "no such key: volumes"
    assert eval_error("object.spec.containers[5].image == ''", object=POD) == "index out of bounds: 5"
    assert eval_error("object.spec.x == 1", object=None) == "no such key: spec"
    assert not check("has(object.spec.volumes)", object=POD)
    assert check("object.metadata.labels['app.kubernetes.io/name'] == 'web'", object=POD)


def test_quantifiers_absorb_errors_when_the_result_is_decided() -> None:
    # one element decides: exists() is true and all() is false despite the other element failing
    assert check("object.spec.containers.exists(c, c.name == 'app' || c.missing)", object=POD)
    assert not check("object.spec.containers.all(c, c.name == 'proxy' && c.missing)", object=POD)
    assert eval_error("object.spec.containers.all(c, c.missing == 1)", object=POD) == "no such key: missing"


def test_numbers_compare_across_types_and_divide_like_go() -> None:
    assert check("object.spec.replicas == 3.0 && object.spec.replicas < 3.5", object=POD)
    assert check("-7 / 2 == -3 && -7 % 2 == -1")
    assert eval_error("object.spec.replicas / 0 == 1", object=POD) == "division by zero"
    assert eval_error("9223372036854775807 + object.spec.replicas > 0", object=POD) == "integer overflow"


def test_optional_syntax_and_variables_of_the_notes_policy() -> None:
    expr = ("object.spec.containers + object.spec.?initContainers.orValue([]) + "
            "object.spec.?ephemeralContainers.orValue([])")
    pod = {"spec": {"containers": [{"image": "a"}], "initContainers": [{"image": "b"}]}}
    assert [c["image"] for c in evaluate(expr, object=pod)] == ["a", "b"]
    assert check("object.metadata.?labels[?'missing'].orValue('none') == 'none'", object=POD)


def test_string_list_and_kubernetes_libraries() -> None:
    assert check("'Docker.IO/App'.lowerAscii() == 'docker.io/app'")
    assert check("'docker.io/youruser/app:v1'.split('/')[0] == 'docker.io'")
    assert check("'%s:%d'.format(['app', 8080]) == 'app:8080'")
    assert check("'nginx:latest'.substring(6) == 'latest' && 'abc'.indexOf('c') == 2")
    assert check("object.spec.containers.map(c, c.image).join(',').contains('nginx')", object=POD)
    assert check("[3, 1, 2].min() == 1 && [1, 2, 3].sum() == 6 && [1, 2].isSorted()")
    assert check("'registry.example.com/a:1'.find('[^/]+') == 'registry.example.com'")
    assert check("url('https://myregistry.com:5000/v2/').getHostname() == 'myregistry.com'")
    assert check("quantity('1Gi').isGreaterThan(quantity('512Mi'))")
    assert check("sets.contains(['a', 'b'], ['b']) && !sets.intersects(['a'], ['c'])")
    assert check("cel.bind(images, object.spec.containers.map(c, c.image), images.size() == 2)", object=POD)
    assert check("object.spec.containers.exists_one(c, c.image.endsWith(':latest'))", object=POD)


def test_authorizer_checks_the_requesting_user() -> None:
    seen: list[tuple[str, str, dict]] = []

    def authorize(user: str, verb: str, attrs: dict) -> tuple[str, str]:
        seen.append((user, verb, attrs))
        return ("allow", "") if user == "admin" else ("no-opinion", "")

    program = cel.compile_expression(
        "authorizer.group('apps').resource('deployments').namespace('lab').check('create').allowed()")
    assert program.evaluate({"authorizer": AuthorizerVal("admin", authorize)}) == ct.BoolType(True)
    assert program.evaluate({"authorizer": AuthorizerVal("bob", authorize)}) == ct.BoolType(False)
    assert seen[0] == ("admin", "create", {"group": "apps", "resource": "deployments", "namespace": "lab"})


# --- the upstream Kyverno CEL policies evaluated as admission CEL ---

def _peer(shared_dir: Path, *parts: str) -> Path:
    return shared_dir.joinpath("conformance", "kyverno-peer-tests", "kyverno-policies", "best-practices-cel", *parts)


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _cel_rule(policy: dict) -> dict:
    return policy["spec"]["rules"][0]["validate"]["cel"]


def _run_rule(rule: dict, obj: dict) -> bool:
    programs = {v["name"]: cel.compile_expression(v["expression"], cel.EnvOptions(), None)
                for v in rule.get("variables", [])}
    fields = tuple((name, cel.variable_field_type(p.output_type)) for name, p in programs.items())
    opts = cel.EnvOptions(variables=fields if programs else None)
    act: dict = {"object": cel.to_cel(obj)}
    if programs:
        act["variables"] = cel.lazy_variables(programs, lambda: act)
    return all(bool(cel.compile_expression(e["expression"], opts).evaluate(act)) for e in rule["expressions"])


def _expected(test_file: Path, kind: str) -> dict[str, bool]:
    expected: dict[str, bool] = {}
    for result in yaml.safe_load(test_file.read_text())["results"]:
        if result["kind"] == kind:
            expected.update({name: result["result"] == "pass" for name in result["resources"]})
    return expected


@pytest.mark.parametrize("policy", ["restrict-image-registries", "disallow-latest-tag"])
def test_kyverno_best_practices_cel_policies(shared_dir: Path, policy: str) -> None:
    rule = _cel_rule(_docs(_peer(shared_dir, policy, f"{policy}.yaml"))[0])
    expected = _expected(_peer(shared_dir, policy, ".kyverno-test", "kyverno-test.yaml"), "Pod")
    pods = {d["metadata"]["name"]: d for d in _docs(_peer(shared_dir, policy, ".kyverno-test", "resource.yaml"))
            if d["kind"] == "Pod"}
    assert expected and set(expected) <= set(pods)
    assert {name: _run_rule(rule, pods[name]) for name in expected} == expected
