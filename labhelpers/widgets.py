"""Small ipywidgets front-ends over the plain helpers, for learners who prefer forms to code.

Each widget has a plain function that returns the same table (:func:`secret_preview`, :func:`pull_report`,
:func:`policy_table`), and outside a Jupyter kernel the widget functions return that table right away, so
headless runs (CI, papermill without a browser) never wait for a click.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

from kubernetes import client

from . import _kube, pods, secrets
from ._display import FAIL, OK, LabError, LabTable, interactive, lab_table

__all__ = ["POLICY_COLUMNS", "policy_table", "policy_tester", "pull_explorer", "pull_report", "secret_builder",
           "secret_preview"]

POLICY_COLUMNS = ["image", "allowed", "reason"]
Evaluate = Callable[[str], tuple[bool, str]]


# --- plain functions ------------------------------------------------------------------------------------------


def secret_preview(name: str, server: str, username: str, password: str, email: str | None = None,
                   namespace: str | None = None, images: Iterable[str] | None = None) -> LabTable:
    """The dockerconfigjson table of the secret ``kubectl create secret docker-registry`` would make, with the
    (masked) kubectl command in the notes; what :func:`secret_builder` shows."""
    secret = secrets.docker_registry_secret(name, server, username, password, email, namespace)
    table = secrets.dockerconfig_table(secret, images=images)
    command = secrets.kubectl_create_command(name, server, username, password, email, namespace)
    table.attrs["notes"] = [*table.notes, "Same as: " + command.replace(" \\\n  ", " ")]
    return table


def pull_report(api: client.ApiClient, pod: str, namespace: str | None = None) -> LabTable:
    """:func:`labhelpers.pods.pull_explain` with the diagnosis in the notes; what :func:`pull_explorer` shows."""
    table = pods.pull_explain(api, pod, namespace)
    diagnosis = pods.diagnose(api, pod, namespace)
    table.attrs["notes"] = [*table.notes, *diagnosis.message.splitlines()]
    return table


def policy_table(evaluate: Evaluate, images: Iterable[str]) -> LabTable:
    """``evaluate(image) -> (allowed, reason)`` for each image; an exception becomes a ❌ row with its message."""
    rows = []
    for image in images:
        try:
            allowed, reason = evaluate(image)
            rows.append([image, f"{OK} allowed" if allowed else f"{FAIL} denied", str(reason)])
        except Exception as e:
            rows.append([image, f"{FAIL} error", f"{type(e).__name__}: {e}"])
    return lab_table(rows, POLICY_COLUMNS, caption="admission policy test")


# --- widgets --------------------------------------------------------------------------------------------------


def _widgets() -> Any:
    import ipywidgets

    return ipywidgets


def _show_in(out: Any, obj: Any) -> None:
    from IPython.display import HTML, display

    with out:
        out.clear_output()
        if isinstance(obj, str):
            display(HTML(obj))
        else:
            display(obj)


def secret_builder(api: client.ApiClient | None = None, *, name: str = "regcred",
                   server: str = secrets.DEFAULT_SERVER, username: str = "", password: str = "",
                   email: str = "", namespace: str | None = None, images: Iterable[str] | None = None) -> Any:
    """A form (server, username, password, email) that previews the dockerconfigjson table and the kubectl
    command, with a button to create the secret.

    Headless (no Jupyter kernel) it returns :func:`secret_preview` of the given values instead.
    """
    images = list(images or [])
    if not interactive():
        if not (username and password):
            return lab_table([], secrets.TABLE_COLUMNS, caption="secret preview",
                             notes=["pass username= and password= to preview a secret without the form"])
        return secret_preview(name, server, username, password, email or None, namespace, images)
    w = _widgets()
    layout = w.Layout(width="460px")
    style = {"description_width": "90px"}
    f_name = w.Text(value=name, description="name", layout=layout, style=style)
    f_ns = w.Text(value=namespace or _kube.current_namespace(), description="namespace", layout=layout, style=style)
    f_server = w.Text(value=server, description="server", layout=layout, style=style)
    f_user = w.Text(value=username, description="username", layout=layout, style=style)
    f_pass = w.Password(value=password, description="password", layout=layout, style=style)
    f_email = w.Text(value=email, description="email", layout=layout, style=style)
    f_images = w.Text(value=", ".join(images), description="test images", layout=layout, style=style,
                      placeholder="docker.io/youruser/app1:v1.0, ghcr.io/...")
    button = w.Button(description="Create secret", button_style="primary", icon="key", disabled=api is None)
    preview, result = w.Output(), w.Output()

    def current() -> tuple[str, str, str, str, str | None, str]:
        return f_name.value, f_server.value, f_user.value, f_pass.value, f_email.value or None, f_ns.value

    def refresh(_: Any = None) -> None:
        n, s, u, p, e, ns = current()
        try:
            imgs = [i.strip() for i in f_images.value.split(",") if i.strip()]
            table = secret_preview(n, s, u, p, e, ns, imgs)
            command = secrets.kubectl_create_command(n, s, u, p, e, ns)
            _show_in(preview, table._repr_html_() + f"<pre>{html.escape(command)}</pre>")
        except LabError as err:
            _show_in(preview, f"<p>{FAIL} {html.escape(err.message)}</p>")

    def create(_: Any) -> None:
        n, s, u, p, e, ns = current()
        with result:
            result.clear_output()
            try:
                secrets.create_secret(api, secrets.docker_registry_secret(n, s, u, p, e, ns), replace=True)
            except LabError as err:
                print(f"{FAIL} {err.message}\n   how to fix: {err.hint}")

    for field_ in (f_name, f_ns, f_server, f_user, f_pass, f_email, f_images):
        field_.observe(refresh, names="value")
    button.on_click(create)
    refresh()
    return w.VBox([w.HTML("<b>Registry secret builder</b> (the password is never shown)"), f_name, f_ns, f_server,
                   f_user, f_pass, f_email, f_images, preview, button, result])


def pull_explorer(api: client.ApiClient, namespace: str | None = None, pod: str | None = None) -> Any:
    """Pick a pod and see its diagnosis, credential path (:func:`labhelpers.pods.pull_explain`) and events.

    Headless it returns :func:`pull_report` for ``pod`` (or the namespace's pods table when no pod is given).
    """
    ns = namespace or _kube.current_namespace()
    if not interactive():
        return pull_report(api, pod, ns) if pod else pods.pods_table(api, ns)
    w = _widgets()
    picker = w.Dropdown(description="pod", layout=w.Layout(width="420px"))
    refresh_button = w.Button(description="Refresh", icon="refresh")
    out = w.Output()

    def load_pods(_: Any = None) -> None:
        try:
            names = list(pods.pods_table(api, ns)["NAME"])
        except Exception as err:
            _show_in(out, f"<p>{FAIL} {html.escape(str(err))}</p>")
            return
        keep = picker.value
        picker.options = names
        picker.value = keep if keep in names else (pod if pod in names else (names[0] if names else None))
        show()

    def show(_: Any = None) -> None:
        if not picker.value:
            _show_in(out, f"<p>No pods in namespace {html.escape(ns)}.</p>")
            return
        d = pods.diagnose(api, picker.value, ns)
        parts = [d._repr_html_(), pods.pull_explain(api, picker.value, ns)._repr_html_(),
                 pods.pod_events_table(api, picker.value, ns)._repr_html_()]
        _show_in(out, "".join(parts))

    picker.observe(show, names="value")
    refresh_button.on_click(load_pods)
    load_pods()
    return w.VBox([w.HBox([picker, refresh_button]), out])


def policy_tester(evaluate: Evaluate, images: Iterable[str] | None = None) -> Any:
    """Type an image, see whether ``evaluate(image) -> (allowed, reason)`` admits it and why.

    ``evaluate`` can wrap anything: a dry-run ``kubectl run``, a Kyverno pattern check, a function from the
    course. Headless it returns :func:`policy_table` of ``images``.
    """
    images = list(images or [])
    if not interactive():
        return policy_table(evaluate, images)
    w = _widgets()
    box = w.Text(placeholder="docker.io/youruser/app:v1.0", description="image", layout=w.Layout(width="420px"),
                 continuous_update=False)  # value changes on Enter
    button = w.Button(description="Test", button_style="primary")
    out = w.Output()
    tested: list[str] = list(images)

    def render() -> None:
        _show_in(out, policy_table(evaluate, reversed(tested))._repr_html_())

    def run(_: Any) -> None:
        image = box.value.strip()
        if image:
            tested.append(image)
            render()

    button.on_click(run)
    box.observe(run, names="value")
    if tested:
        render()
    return w.VBox([w.HBox([box, button]), out])
