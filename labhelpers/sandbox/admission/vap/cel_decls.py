"""What the Kubernetes admission CEL environment declares: functions (with overloads) and object types.

The function list is cel-go's standard library plus the extensions kube-apiserver's base environment enables
for admission (ext.Strings, ext.Sets, optional types, and Kubernetes' lists, regex, url, quantity and
authorizer libraries). Declarations drive the checker; :mod:`.cel_lib` implements the same names at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from .cel_types import Type, parse_type


@dataclass(frozen=True)
class Overload:
    member: bool
    args: tuple[Type, ...]  # for member overloads args[0] is the receiver
    result: Type


_ORDERING = ("bool,bool; int,int; uint,uint; double,double; string,string; bytes,bytes; timestamp,timestamp; "
             "duration,duration; int,uint; int,double; uint,int; uint,double; double,int; double,uint")
_TS_GETTER = "timestamp.() -> int; timestamp.(string) -> int"
Q = "kubernetes.Quantity"
U = "kubernetes.URL"
AZ = "kubernetes.authorization.Authorizer"
PC = "kubernetes.authorization.PathCheck"
GC = "kubernetes.authorization.GroupCheck"
RC = "kubernetes.authorization.ResourceCheck"
DEC = "kubernetes.authorization.Decision"

_SPEC = {
    "_+_": "int,int->int; uint,uint->uint; double,double->double; string,string->string; bytes,bytes->bytes; "
           "list(A),list(A)->list(A); timestamp,duration->timestamp; duration,timestamp->timestamp; "
           "duration,duration->duration",
    "_-_": "int,int->int; uint,uint->uint; double,double->double; timestamp,timestamp->duration; "
           "timestamp,duration->timestamp; duration,duration->duration",
    "_*_": "int,int->int; uint,uint->uint; double,double->double",
    "_/_": "int,int->int; uint,uint->uint; double,double->double",
    "_%_": "int,int->int; uint,uint->uint",
    "-_": "int->int; double->double",
    "!_": "bool->bool",
    "_&&_": "bool,bool->bool",
    "_||_": "bool,bool->bool",
    "_==_": "A,A->bool",
    "_!=_": "A,A->bool",
    "_<_": _ORDERING.replace(";", "->bool;") + "->bool",
    "_<=_": _ORDERING.replace(";", "->bool;") + "->bool",
    "_>_": _ORDERING.replace(";", "->bool;") + "->bool",
    "_>=_": _ORDERING.replace(";", "->bool;") + "->bool",
    "@in": "A,list(A)->bool; A,map(A,B)->bool",
    "_[_]": "list(A),int->A; map(A,B),A->B",
    "_[?_]": "list(A),int->opt(A); map(A,B),A->opt(B); opt(list(A)),int->opt(A); opt(map(A,B)),A->opt(B)",
    "_?_:_": "bool,A,A->A",
    "size": "string->int; bytes->int; list(A)->int; map(A,B)->int; string.()->int; bytes.()->int; "
            "list(A).()->int; map(A,B).()->int",
    "contains": "string.(string)->bool",
    "startsWith": "string.(string)->bool",
    "endsWith": "string.(string)->bool",
    "matches": "string,string->bool; string.(string)->bool",
    "int": "int->int; uint->int; double->int; string->int; timestamp->int",
    "uint": "uint->uint; int->uint; double->uint; string->uint",
    "double": "double->double; int->double; uint->double; string->double",
    "string": "string->string; int->string; uint->string; double->string; bool->string; bytes->string; "
              "timestamp->string; duration->string",
    "bytes": "bytes->bytes; string->bytes",
    "bool": "bool->bool; string->bool",
    "duration": "duration->duration; string->duration",
    "timestamp": "timestamp->timestamp; string->timestamp; int->timestamp",
    "dyn": "A->dyn",
    "type": "A->type(A)",
    "getFullYear": _TS_GETTER, "getMonth": _TS_GETTER, "getDayOfYear": _TS_GETTER,
    "getDayOfMonth": _TS_GETTER, "getDate": _TS_GETTER, "getDayOfWeek": _TS_GETTER,
    "getHours": _TS_GETTER + "; duration.()->int", "getMinutes": _TS_GETTER + "; duration.()->int",
    "getSeconds": _TS_GETTER + "; duration.()->int", "getMilliseconds": _TS_GETTER + "; duration.()->int",
    # ext.Strings
    "charAt": "string.(int)->string",
    "indexOf": "string.(string)->int; string.(string,int)->int; list(A).(A)->int",
    "lastIndexOf": "string.(string)->int; string.(string,int)->int; list(A).(A)->int",
    "lowerAscii": "string.()->string",
    "upperAscii": "string.()->string",
    "replace": "string.(string,string)->string; string.(string,string,int)->string",
    "split": "string.(string)->list(string); string.(string,int)->list(string)",
    "substring": "string.(int)->string; string.(int,int)->string",
    "trim": "string.()->string",
    "join": "list(string).()->string; list(string).(string)->string",
    "format": "string.(list(dyn))->string",
    "strings.quote": "string->string",
    # Kubernetes lists
    "isSorted": "list(A).()->bool",
    "sum": "list(int).()->int; list(uint).()->uint; list(double).()->double; list(duration).()->duration",
    "min": "list(A).()->A",
    "max": "list(A).()->A",
    # Kubernetes regex
    "find": "string.(string)->string",
    "findAll": "string.(string)->list(string); string.(string,int)->list(string)",
    # Kubernetes URLs
    "url": f"string->{U}",
    "isURL": "string->bool",
    "getScheme": f"{U}.()->string", "getHost": f"{U}.()->string", "getHostname": f"{U}.()->string",
    "getPort": f"{U}.()->string", "getEscapedPath": f"{U}.()->string",
    "getQuery": f"{U}.()->map(string,list(string))",
    # Kubernetes quantities
    "quantity": f"string->{Q}",
    "isQuantity": "string->bool",
    "sign": f"{Q}.()->int",
    "isInteger": f"{Q}.()->bool",
    "asInteger": f"{Q}.()->int",
    "asApproximateFloat": f"{Q}.()->double",
    "add": f"{Q}.({Q})->{Q}; {Q}.(int)->{Q}",
    "sub": f"{Q}.({Q})->{Q}; {Q}.(int)->{Q}",
    "compareTo": f"{Q}.({Q})->int",
    "isGreaterThan": f"{Q}.({Q})->bool",
    "isLessThan": f"{Q}.({Q})->bool",
    # ext.Sets
    "sets.contains": "list(A),list(A)->bool",
    "sets.equivalent": "list(A),list(A)->bool",
    "sets.intersects": "list(A),list(A)->bool",
    # optional types
    "optional.of": "A->opt(A)",
    "optional.ofNonZeroValue": "A->opt(A)",
    "optional.none": "->opt(A)",
    "hasValue": "opt(A).()->bool",
    "value": "opt(A).()->A",
    "or": "opt(A).(opt(A))->opt(A)",
    "orValue": "opt(A).(A)->A",
    # Kubernetes authorizer
    "path": f"{AZ}.(string)->{PC}",
    "group": f"{AZ}.(string)->{GC}",
    "serviceAccount": f"{AZ}.(string,string)->{AZ}",
    "resource": f"{GC}.(string)->{RC}",
    "subresource": f"{RC}.(string)->{RC}",
    "namespace": f"{RC}.(string)->{RC}",
    "name": f"{RC}.(string)->{RC}",
    "check": f"{PC}.(string)->{DEC}; {RC}.(string)->{DEC}",
    "allowed": f"{DEC}.()->bool",
    "errored": f"{DEC}.()->bool",
    "reason": f"{DEC}.()->string",
    "error": f"{DEC}.()->string",
}


def _split_args(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur.strip():
        out.append(cur)
    return [a.strip() for a in out]


def _parse_overload(sig: str) -> Overload:
    lhs, result = sig.rsplit("->", 1)
    lhs = lhs.strip()
    if lhs.endswith(")") and ".(" in lhs:
        recv, inner = lhs.split(".(", 1)
        args = [recv.strip(), *_split_args(inner[:-1])]
        return Overload(True, tuple(parse_type(a) for a in args), parse_type(result.strip()))
    return Overload(False, tuple(parse_type(a) for a in _split_args(lhs)), parse_type(result.strip()))


@cache
def functions() -> dict[str, tuple[Overload, ...]]:
    return {name: tuple(_parse_overload(s) for s in spec.split(";")) for name, spec in _SPEC.items()}


# --- object types the admission environment declares (k8s.io/apiserver plugin/cel/compile.go) ---

_OBJECTS = {
    "kubernetes.AdmissionRequest": {
        "kind": "kubernetes.GroupVersionKind", "resource": "kubernetes.GroupVersionResource",
        "subResource": "string", "requestKind": "kubernetes.GroupVersionKind",
        "requestResource": "kubernetes.GroupVersionResource", "requestSubResource": "string", "name": "string",
        "namespace": "string", "operation": "string", "userInfo": "kubernetes.UserInfo", "dryRun": "bool",
        "options": "dyn",
    },
    "kubernetes.GroupVersionKind": {"group": "string", "version": "string", "kind": "string"},
    "kubernetes.GroupVersionResource": {"group": "string", "version": "string", "resource": "string"},
    "kubernetes.UserInfo": {"username": "string", "uid": "string", "groups": "list(string)",
                            "extra": "map(string, list(string))"},
    "kubernetes.Namespace": {"metadata": "kubernetes.NamespaceMetadata", "spec": "kubernetes.NamespaceSpec",
                             "status": "kubernetes.NamespaceStatus"},
    "kubernetes.NamespaceMetadata": {
        "name": "string", "generateName": "string", "namespace": "string", "labels": "map(string, string)",
        "annotations": "map(string, string)", "UID": "string", "creationTimestamp": "timestamp",
        "deletionGracePeriodSeconds": "int", "deletionTimestamp": "timestamp", "generation": "int",
        "resourceVersion": "string", "finalizers": "list(string)",
    },
    "kubernetes.NamespaceSpec": {"finalizers": "list(string)"},
    "kubernetes.NamespaceStatus": {"conditions": "list(kubernetes.NamespaceCondition)", "phase": "string"},
    "kubernetes.NamespaceCondition": {"status": "string", "type": "string", "lastTransitionTime": "timestamp",
                                      "message": "string", "reason": "string"},
}


@cache
def object_fields() -> dict[str, dict[str, Type]]:
    return {name: {f: parse_type(t) for f, t in fields.items()} for name, fields in _OBJECTS.items()}
