"""Deployment, ReplicaSet, Job and CronJob validation (pkg/apis/apps and batch validation plus their strategies)."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import validation_common as vc
from .validation_cmpdiff import pod_specs_equal
from .validation_common import FieldErr, GoValue, child, invalid, key, required
from .validation_cron import parse_standard_error
from .validation_pod import validate_pod_template_spec

JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")
CONTROLLER_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")


def _d(v: Any) -> dict:
    return v if isinstance(v, dict) else {}


def _s(v: Any) -> str:
    return v if isinstance(v, str) else ""


def _int(v: Any) -> int:
    return vc.as_int(v) or 0


def _labels_of(tmpl: Any) -> dict:
    return _d(_d(_d(tmpl).get("metadata")).get("labels"))


def _go_labels(tmpl: Any) -> GoValue:
    meta = _d(_d(tmpl).get("metadata"))
    return vc.go_string_map(meta.get("labels"), meta.get("labels") is not None)


def selector_is_invalid(sel: Any) -> bool:
    """Whether metav1.LabelSelectorAsSelector(sel) fails (bad operator, key or value)."""
    if sel is None:
        return False
    for k, v in _d(sel.get("matchLabels")).items():
        if vc.is_qualified_name(k) or vc.is_valid_label_value(_s(v)):
            return True
    for e in sel.get("matchExpressions") or []:
        e = _d(e)
        op, values = e.get("operator"), e.get("values") or []
        if op not in ("In", "NotIn", "Exists", "DoesNotExist") or vc.is_qualified_name(_s(e.get("key"))):
            return True
        if op in ("In", "NotIn") and not values or op in ("Exists", "DoesNotExist") and values:
            return True
        if any(vc.is_valid_label_value(_s(x)) for x in values):
            return True
    return False


def _template_for_replica_set(spec: dict, path: str, owner: str) -> list[FieldErr]:
    """ValidatePodTemplateSpecForReplicaSet (with the selector-vs-labels check)."""
    errs: list[FieldErr] = []
    sel = spec.get("selector")
    tmpl = _d(spec.get("template"))
    tp = child(path, "template")
    # A nil selector selects nothing, so it never matches (hence two errors for a missing selector).
    if (sel is None or not vc.selector_is_empty(sel)) and not vc.selector_matches(sel, _labels_of(tmpl)):
        errs.append(invalid(child(tp, "metadata", "labels"), _go_labels(tmpl),
                                "`selector` does not match template `labels`"))
    errs += validate_pod_template_spec(tmpl, tp)
    pspec = _d(tmpl.get("spec"))
    if pspec.get("restartPolicy") != "Always":
        errs.append(vc.not_supported(child(tp, "spec", "restartPolicy"), _s(pspec.get("restartPolicy")), ["Always"]))
    if pspec.get("activeDeadlineSeconds") is not None:
        errs.append(vc.forbidden(child(tp, "spec", "activeDeadlineSeconds"),
                                 f"activeDeadlineSeconds in {owner} is not Supported"))
    return errs


def _selector_checks(spec: dict, path: str, empty_msg: str) -> list[FieldErr]:
    sel = spec.get("selector")
    sp = child(path, "selector")
    if sel is None:
        return [required(sp)]
    errs = vc.validate_label_selector(_d(sel), sp)
    if vc.selector_is_empty(_d(sel)):
        errs.append(invalid(sp, vc.go_label_selector(_d(sel)), empty_msg))
    return errs


def _deployment_spec(spec: dict, path: str = "spec") -> list[FieldErr]:
    errs = vc.non_negative(_int(spec.get("replicas")), child(path, "replicas"))
    errs += _selector_checks(spec, path, "empty selector is invalid for deployment")
    if selector_is_invalid(spec.get("selector")):
        errs.append(invalid(child(path, "selector"), vc.go_label_selector(_d(spec.get("selector"))),
                            "invalid label selector"))
    else:
        errs += _template_for_replica_set(spec, path, "ReplicaSet")
    errs += _strategy(_d(spec.get("strategy")), child(path, "strategy"))
    errs += vc.non_negative(_int(spec.get("minReadySeconds")), child(path, "minReadySeconds"))
    if spec.get("revisionHistoryLimit") is not None:
        errs += vc.non_negative(_int(spec["revisionHistoryLimit"]), child(path, "revisionHistoryLimit"))
    if spec.get("progressDeadlineSeconds") is not None:
        pds = _int(spec["progressDeadlineSeconds"])
        errs += vc.non_negative(pds, child(path, "progressDeadlineSeconds"))
        if pds <= _int(spec.get("minReadySeconds")):
            errs.append(invalid(child(path, "progressDeadlineSeconds"), pds, "must be greater than minReadySeconds"))
    return errs


def _int_or_percent(v: Any, path: str) -> list[FieldErr]:
    if isinstance(v, str):
        return [invalid(path, GoValue(_go_intstr(v)), m) for m in vc.is_valid_percent(v)]
    return vc.non_negative(_int(v), path)


def _go_intstr(v: Any) -> str:
    """``%#v`` of an intstr.IntOrString value (its String method has a pointer receiver)."""
    if isinstance(v, str):
        return f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{vc.go_quote(v)}}}"
    return f"intstr.IntOrString{{Type:0, IntVal:{_int(v)}, StrVal:\"\"}}"


def _int_or_percent_value(v: Any) -> int:
    if isinstance(v, str):
        m = re.fullmatch(r"([0-9]+)%", v)
        if m:
            return int(m.group(1))
        return int(v) if re.fullmatch(r"-?[0-9]+", v) else 0
    return _int(v)


def _strategy(strategy: dict, path: str) -> list[FieldErr]:
    t = strategy.get("type", "")
    if t == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            return [vc.forbidden(child(path, "rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if t == "RollingUpdate":
        ru = strategy.get("rollingUpdate")
        if ru is None:
            return [required(child(path, "rollingUpdate"), "this should be defaulted and never be nil")]
        ru = _d(ru)
        rp = child(path, "rollingUpdate")
        mu, ms = ru.get("maxUnavailable"), ru.get("maxSurge")
        errs = _int_or_percent(mu, child(rp, "maxUnavailable")) + _int_or_percent(ms, child(rp, "maxSurge"))
        if _int_or_percent_value(mu) == 0 and _int_or_percent_value(ms) == 0:
            errs.append(invalid(child(rp, "maxUnavailable"), GoValue(_go_intstr(mu if mu is not None else 0)),
                                "may not be 0 when `maxSurge` is 0"))
        if isinstance(mu, str) and re.fullmatch(r"[0-9]+%", mu) and int(mu[:-1]) > 100:
            errs.append(invalid(child(rp, "maxUnavailable"), GoValue(_go_intstr(mu)), "must not be greater than 100%"))
        return errs
    shown = GoValue(f"apps.DeploymentStrategy{{Type:{vc.go_quote(_s(t))}, "
                    "RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}")
    return [vc.not_supported(path, shown, ["Recreate", "RollingUpdate"])]


def _replica_set_spec(spec: dict, path: str = "spec") -> list[FieldErr]:
    errs = vc.non_negative(_int(spec.get("replicas")), child(path, "replicas"))
    errs += vc.non_negative(_int(spec.get("minReadySeconds")), child(path, "minReadySeconds"))
    errs += _selector_checks(spec, path, "empty selector is invalid for deployment")
    if selector_is_invalid(spec.get("selector")):
        errs.append(invalid(child(path, "selector"), vc.go_label_selector(_d(spec.get("selector"))),
                            "invalid label selector"))
    else:
        errs += _template_for_replica_set(spec, path, "ReplicaSet")
    return errs


# --- batch ---

def _has_label(labels: dict, present: bool, label: str, value: str, path: str) -> list[FieldErr]:
    """core ValidateHasLabel."""
    kp = key(child(path, "labels"), label)
    if label not in labels:
        return [required(kp, f"must be '{value}'")]
    if labels[label] != value:
        return [invalid(kp, vc.go_string_map(labels, present), f"must be '{value}'")]
    return []


def _generated_selector(job: dict, require_prefixed: bool) -> list[FieldErr]:
    spec, meta = _d(job.get("spec")), _d(job.get("metadata"))
    if spec.get("manualSelector") is True or spec.get("selector") is None:
        return []
    errs: list[FieldErr] = []
    uid, name = _s(meta.get("uid")), _s(meta.get("name"))
    if not uid:
        errs.append(required("metadata.uid"))
    tmeta = _d(_d(spec.get("template")).get("metadata"))
    labels, present = _d(tmeta.get("labels")), tmeta.get("labels") is not None
    tpath = "spec.template.metadata"
    errs += _has_label(labels, present, "controller-uid", uid, tpath)
    errs += _has_label(labels, present, "job-name", name, tpath)
    expected = {"controller-uid": uid, "job-name": name}
    if require_prefixed:
        errs += _has_label(labels, present, "batch.kubernetes.io/controller-uid", uid, tpath)
        errs += _has_label(labels, present, "batch.kubernetes.io/job-name", name, tpath)
        expected.update({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name})
    if not selector_is_invalid(spec["selector"]) and not vc.selector_matches(_d(spec["selector"]), expected):
        errs.append(invalid("spec.selector", vc.go_label_selector(_d(spec["selector"])), "`selector` not auto-generated"))
    return errs


def _job_spec_common(spec: dict, path: str) -> list[FieldErr]:
    """batch validateJobSpec (shared by Jobs and CronJob job templates)."""
    errs: list[FieldErr] = []
    for f in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished",
              "backoffLimitPerIndex"):
        if spec.get(f) is not None:
            errs += vc.non_negative(_int(spec[f]), child(path, f))
    if spec.get("maxFailedIndexes") is not None:
        errs += vc.non_negative(_int(spec["maxFailedIndexes"]), child(path, "maxFailedIndexes"))
        if spec.get("backoffLimitPerIndex") is None:
            errs.append(required(child(path, "backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
    mode = spec.get("completionMode")
    if mode is not None:
        if mode not in ("NonIndexed", "Indexed"):
            errs.append(vc.not_supported(child(path, "completionMode"), mode, ["NonIndexed", "Indexed"]))
        if mode == "Indexed":
            if spec.get("completions") is None:
                errs.append(required(child(path, "completions"), "when completion mode is Indexed"))
            if spec.get("parallelism") is not None and _int(spec["parallelism"]) > 100000:
                errs.append(invalid(child(path, "parallelism"), _int(spec["parallelism"]),
                                    "must be less than or equal to 100000 when completion mode is Indexed"))
    if mode in (None, "NonIndexed"):
        for f in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if spec.get(f) is not None:
                errs.append(invalid(child(path, f), _int(spec[f]), "requires indexed completion mode"))
    prp = spec.get("podReplacementPolicy")
    if prp is not None:
        if spec.get("podFailurePolicy") is not None:
            if prp != "Failed":
                errs.append(vc.not_supported(child(path, "podReplacementPolicy"), prp, ["Failed"]))
        elif prp not in ("Failed", "TerminatingOrFailed"):
            errs.append(vc.not_supported(child(path, "podReplacementPolicy"), prp, ["Failed", "TerminatingOrFailed"]))
    tmpl = _d(spec.get("template"))
    errs += validate_pod_template_spec(tmpl, child(path, "template"))
    rp = _d(tmpl.get("spec")).get("restartPolicy", "")
    rpath = child(path, "template", "spec", "restartPolicy")
    if rp in ("Always", "", None):
        errs.append(required(rpath, 'valid values: "OnFailure", "Never"'))
    elif rp not in ("OnFailure", "Never"):
        errs.append(vc.not_supported(rpath, rp, ["OnFailure", "Never"]))
    elif spec.get("podFailurePolicy") is not None and rp != "Never":
        errs.append(invalid(rpath, rp, 'only "Never" is supported when podFailurePolicy is specified'))
    return errs


def _job_spec(spec: dict, path: str = "spec") -> list[FieldErr]:
    """batch ValidateJobSpec: the common checks plus selector required and matching the template."""
    errs = _job_spec_common(spec, path)
    sel = spec.get("selector")
    if sel is None:
        errs.append(required(child(path, "selector")))
    else:
        errs += vc.validate_label_selector(_d(sel), child(path, "selector"))
    if not selector_is_invalid(sel) and not vc.selector_matches(sel, _labels_of(spec.get("template"))):
        errs.append(invalid(child(path, "template", "metadata", "labels"), _go_labels(spec.get("template")),
                            "`selector` does not match template `labels`"))
    return errs


def _validate_job(job: dict, meta_errs: list[FieldErr], require_prefixed: bool = True) -> list[FieldErr]:
    spec = _d(job.get("spec"))
    errs = list(meta_errs) + _generated_selector(job, require_prefixed) + _job_spec(spec)
    if spec.get("completionMode") == "Indexed" and _int(spec.get("completions")) > 0:
        host = f"{_s(_d(job.get('metadata')).get('name'))}-{_int(spec.get('completions')) - 1}"
        if vc.is_dns1123_label(host):
            errs.append(invalid("metadata.name", _s(_d(job.get("metadata")).get("name")),
                                f"will not able to create pod with invalid DNS label: {host}"))
    return errs


def _go_template(tmpl: Any) -> GoValue:
    """An abbreviated ``%#v`` of core.PodTemplateSpec (the real one spans several kilobytes)."""
    meta = _d(_d(tmpl).get("metadata"))
    labels = vc.go_string_map(meta.get("labels"), meta.get("labels") is not None)
    ann = vc.go_string_map(meta.get("annotations"), meta.get("annotations") is not None)
    return GoValue(
        'core.PodTemplateSpec{ObjectMeta:v1.ObjectMeta{Name:"", GenerateName:"", Namespace:"", SelfLink:"", '
        'UID:"", ResourceVersion:"", Generation:0, CreationTimestamp:time.Date(1, time.January, 1, 0, 0, 0, 0, '
        f'time.UTC), DeletionTimestamp:<nil>, DeletionGracePeriodSeconds:(*int64)(nil), Labels:{labels}, '
        f'Annotations:{ann}, OwnerReferences:[]v1.OwnerReference(nil), Finalizers:[]string(nil), '
        'ManagedFields:[]v1.ManagedFieldsEntry(nil)}, Spec:core.PodSpec{...}}')


def _job_update(new: dict, old: dict, meta_update: list[FieldErr]) -> list[FieldErr]:
    ns, os_ = _d(new.get("spec")), _d(old.get("spec"))
    old_labels = _labels_of(os_.get("template"))
    require_prefixed = "batch.kubernetes.io/job-name" in old_labels and "batch.kubernetes.io/controller-uid" in old_labels
    meta_errs = _job_meta(new)
    errs = _validate_job(new, meta_errs, require_prefixed) + list(meta_update) + _job_spec(ns)
    errs += vc.immutable("spec.completions", ns.get("completions"), os_.get("completions"))
    if (ns.get("selector") or None) != (os_.get("selector") or None):
        errs.append(invalid("spec.selector", vc.go_label_selector(ns.get("selector")), vc.FIELD_IMMUTABLE))
    new_t, old_t = _d(ns.get("template")), _d(os_.get("template"))
    if old.get("spec", {}).get("suspend") is True and not _d(old.get("status")).get("startTime"):
        # Scheduling directives of suspended, never-started jobs are mutable.
        old_t = {**old_t, "metadata": {**_d(old_t.get("metadata")), **{k: v for k, v in _d(new_t.get("metadata")).items()
                                                                          if k in ("labels", "annotations")}},
                 "spec": {**_d(old_t.get("spec")), **{k: v for k, v in _d(new_t.get("spec")).items()
                                                      if k in ("nodeSelector", "tolerations", "schedulingGates", "affinity")}}}
    if _clean(new_t.get("metadata")) != _clean(old_t.get("metadata")) or not pod_specs_equal(
            _d(old_t.get("spec")), _d(new_t.get("spec"))):
        errs.append(invalid("spec.template", _go_template(new_t), vc.FIELD_IMMUTABLE))
    for f in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"):
        if ns.get(f) != os_.get(f):
            v = ns.get(f)
            errs.append(invalid(child("spec", f), v if not isinstance(v, dict) else GoValue("{...}"), vc.FIELD_IMMUTABLE))
    return errs


def _clean(v: Any) -> Any:
    if isinstance(v, dict):
        out = {k: _clean(x) for k, x in v.items()}
        return {k: x for k, x in out.items() if x not in (None, {}, [], "")}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def _schedule(schedule: str, time_zone: Any, allow_tz: bool, path: str) -> list[FieldErr]:
    errs: list[FieldErr] = []
    err = parse_standard_error(schedule)
    if err is not None:
        errs.append(invalid(path, schedule, err))
    if allow_tz and "TZ" in schedule and time_zone is not None:
        errs.append(invalid(path, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
    elif not allow_tz and "TZ" in schedule:
        errs.append(invalid(path, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    return errs


def _time_zone(tz: Any, path: str) -> list[FieldErr]:
    if tz is None:
        return []
    tz = _s(tz)
    if not tz:
        return [invalid(path, tz, "timeZone must be nil or non-empty string")]
    for part in tz.split("/"):
        if part in (".", "..") or part.startswith("-") or not re.fullmatch(r"[A-Za-z.\-_0-9+]{1,14}", part):
            return [invalid(path, tz, f"unknown time zone {tz}")]
    errs = []
    if tz.lower() == "local":
        errs.append(invalid(path, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
    try:
        if tz != "UTC":
            ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        errs.append(invalid(path, tz, f"unknown time zone {tz}"))
    return errs


def _cron_job_spec(spec: dict, old_spec: dict | None, path: str = "spec") -> list[FieldErr]:
    errs: list[FieldErr] = []
    schedule = _s(spec.get("schedule"))
    if not schedule:
        errs.append(required(child(path, "schedule")))
    else:
        allow_tz = old_spec is not None and "TZ" in _s(old_spec.get("schedule"))
        errs += _schedule(schedule, spec.get("timeZone"), allow_tz, child(path, "schedule"))
    if spec.get("startingDeadlineSeconds") is not None:
        errs += vc.non_negative(_int(spec["startingDeadlineSeconds"]), child(path, "startingDeadlineSeconds"))
    if old_spec is None or old_spec.get("timeZone") != spec.get("timeZone"):
        errs += _time_zone(spec.get("timeZone"), child(path, "timeZone"))
    cp = spec.get("concurrencyPolicy", "")
    if cp in ("", None):
        errs.append(required(child(path, "concurrencyPolicy")))
    elif cp not in ("Allow", "Forbid", "Replace"):
        errs.append(vc.not_supported(child(path, "concurrencyPolicy"), cp, ["Allow", "Forbid", "Replace"]))
    jt = _d(spec.get("jobTemplate"))
    jp = child(path, "jobTemplate")
    jspec = _d(jt.get("spec"))
    errs += _job_spec_common(jspec, child(jp, "spec"))
    if jspec.get("selector") is not None:
        errs.append(invalid(child(jp, "spec", "selector"), vc.go_label_selector(_d(jspec["selector"])),
                            "`selector` will be auto-generated"))
    if jspec.get("manualSelector") is True:
        errs.append(vc.not_supported(child(jp, "spec", "manualSelector"), True, ["nil", "false"]))
    for f in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        if spec.get(f) is not None:
            errs += vc.non_negative(_int(spec[f]), child(path, f))
    return errs


def _job_meta(obj: dict) -> list[FieldErr]:
    from .validation import validate_object_meta

    return validate_object_meta(obj.get("metadata"), True, vc.name_is_dns_subdomain)


def validate_create(kind: str, obj: dict, meta_errs: list[FieldErr]) -> list[FieldErr]:
    spec = _d(obj.get("spec"))
    if kind == "Deployment":
        return list(meta_errs) + _deployment_spec(spec)
    if kind == "ReplicaSet":
        return list(meta_errs) + _replica_set_spec(spec)
    if kind == "Job":
        return _validate_job(obj, meta_errs)
    errs = list(meta_errs) + _cron_job_spec(spec, None)
    name = _s(_d(obj.get("metadata")).get("name"))
    if len(name) > 52:
        errs.append(invalid("metadata.name", name, "must be no more than 52 characters"))
    return errs


def validate_update(kind: str, new: dict, old: dict, meta_update: list[FieldErr]) -> list[FieldErr]:
    ns, os_ = _d(new.get("spec")), _d(old.get("spec"))
    if kind in ("Deployment", "ReplicaSet"):
        errs = list(meta_update) + (_deployment_spec(ns) if kind == "Deployment" else _replica_set_spec(ns))
        if ns.get("selector") != os_.get("selector"):
            errs.append(invalid("spec.selector", vc.go_label_selector(ns.get("selector")), vc.FIELD_IMMUTABLE))
        return errs
    if kind == "Job":
        return _job_update(new, old, meta_update)
    return list(meta_update) + _cron_job_spec(ns, os_)
