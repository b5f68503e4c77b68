"""What is graded: per notebook, the exercise cells students write and the self-check cells that carry points.

Cells are named by their slug, the stable part of their id (``01-07-ex1-kubectl`` -> ``ex1-kubectl``), so inserting
cells in a notebook does not break the spec. :mod:`grading.build` turns a notebook plus its spec into the nbgrader
source version; a slug that is no longer in the notebook stops the build with a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NAMESPACE = "registry-lab"  # the graded run always uses the parameters cell's default namespace


@dataclass(frozen=True)
class Exercise:
    """An exercise cell: its code becomes an nbgrader solution region, students get a stub and ``task``.

    ``region`` is ``None`` for the whole cell after its first comment line, or ``(first, last)``: the region runs
    from the first line containing ``first`` to the next line containing ``last`` (both top level).
    """

    cell: str
    task: str
    region: tuple[str, str] | None = None


@dataclass(frozen=True)
class Graded:
    """A graded self-check cell: ``points`` shared equally among its checks, visible and hidden.

    ``hidden`` is ``"module.function"`` in :mod:`grading.hidden`: the module's source is injected between
    nbgrader's HIDDEN TESTS markers, followed by ``function(checks, api, ns)``, which adds the checks students do
    not see to the cell's :class:`labhelpers.checks.Checks` before it runs.
    """

    cell: str
    points: int
    hidden: str


@dataclass(frozen=True)
class NotebookSpec:
    filename: str
    exercises: tuple[Exercise, ...]
    graded: tuple[Graded, ...]
    # Trusted cells the grader re-runs in its own process before re-checking a graded cell (names they define).
    context: tuple[str, ...] = ("parameters", "setup")

    @property
    def stem(self) -> str:
        return self.filename.removesuffix(".ipynb")

    @property
    def prefix(self) -> str:
        return self.filename.split("-")[0]


@dataclass(frozen=True)
class Assignment:
    name: str
    notebooks: tuple[NotebookSpec, ...]
    # The exercises the demo's "partial" submission solves (grade ids), the others stay as released.
    demo_partial: frozenset[str] = field(default_factory=frozenset)

    def notebook(self, stem: str) -> NotebookSpec:
        for nb in self.notebooks:
            if nb.stem == stem:
                return nb
        raise KeyError(f"notebook {stem!r} is not part of assignment {self.name!r}")


def grade_id(spec: NotebookSpec, slug: str) -> str:
    """The nbgrader ``grade_id`` of a cell: notebook number and slug, stable when cells are added elsewhere."""
    return f"{spec.prefix}-{slug}"


LAB03 = Assignment(
    name="lab03",
    notebooks=(
        NotebookSpec(
            filename="01-imagepullsecrets.ipynb",
            exercises=(
                Exercise("ex1-kubectl",
                         "Exercise 1: with kubectl (through sh(...)), delete and re-create the docker-registry secret "
                         "dockerhub-secret in namespace ns for https://index.docker.io/v1/ with username "
                         "your-username, password your-password and email your-email@example.com."),
                Exercise("ex1-labhelpers",
                         "The same secret with the lab helpers: build it with secrets.docker_registry_secret(...), "
                         "send it with secrets.create_secret(api, ..., replace=True), show it with "
                         "secrets.dockerconfig_table(...)."),
                Exercise("ex2-kubectl",
                         "Exercise 2: with kubectl, (re-)create the secret docker-config-secret of type "
                         "kubernetes.io/dockerconfigjson from the file docker_config (key .dockerconfigjson)."),
                Exercise("ex2-labhelpers",
                         "The same with the lab helpers: secrets.secret_from_docker_config(...), then "
                         "secrets.create_secret(api, ..., replace=True), then show it as a table."),
                Exercise("ex3-kubectl",
                         "Exercise 3: in the work directory, write registry-secret.yaml, a Secret "
                         "manual-registry-secret of type kubernetes.io/dockerconfigjson whose .dockerconfigjson "
                         "holds an auths entry for myregistry.com (username / password, base64 -w0), and "
                         "kubectl apply it."),
                Exercise("ex3-labhelpers",
                         "The same manifest with secrets.registry_secret_manifest(...), sent with "
                         "secrets.create_secret(api, secrets.secret_from_yaml(manifest), replace=True)."),
            ),
            graded=(Graded("self-check", 3, "lab03.add_nb01"),),
        ),
        NotebookSpec(
            filename="02-using-pull-secrets.ipynb",
            exercises=(
                Exercise("ex4-apply",
                         "Exercise 4: write private-image-deployment.yaml (Deployment private-app, one replica, "
                         "image docker.io/yourusername/private-app:v1.0, imagePullSecrets dockerhub-secret), "
                         "kubectl apply it and wait for its pod (pods.wait_for_pod)."),
                Exercise("ex5-apply",
                         "Exercise 5: apply a ServiceAccount registry-sa with imagePullSecrets dockerhub-secret, "
                         "then a pod app-with-sa that uses it (and no pull secrets of its own); wait for the pod."),
                Exercise("observe-sa-patch",
                         "Exercise 6: the seed's patch: give the default ServiceAccount the imagePullSecrets "
                         "dockerhub-secret (kubectl patch serviceaccount default -p ... -n ns).",
                         region=('sh(rf"""', '""")')),
            ),
            graded=(Graded("self-check", 4, "lab03.add_nb02"),),
        ),
        NotebookSpec(
            filename="03-multi-registry.ipynb",
            exercises=(
                Exercise("ex7-secret",
                         "Exercise 7: write docker-config.json with auths for docker.io (user1 / pass1), ghcr.io "
                         "(user2 / token2) and myregistry.com (user3 / pass3), then (re-)create the secret "
                         "multi-registry-secret of type kubernetes.io/dockerconfigjson from it."),
                Exercise("ex7-deployment",
                         "Apply the seed's Deployment multi-registry-app: three containers (app1 from docker.io, "
                         "app2 from ghcr.io, app3 from myregistry.com, tags v1.0, label app=multi-app) and the "
                         "pull secret multi-registry-secret; wait for its pod."),
            ),
            graded=(Graded("self-check", 3, "lab03.add_nb03"),),
        ),
    ),
    demo_partial=frozenset({"01-ex1-kubectl", "01-ex2-kubectl", "02-ex4-apply"}),
)

ASSIGNMENTS: dict[str, Assignment] = {a.name: a for a in (LAB03,)}


def find_notebook(stem: str) -> NotebookSpec | None:
    """The spec of a notebook (by file stem) in any assignment, or None."""
    for assignment in ASSIGNMENTS.values():
        for nb in assignment.notebooks:
            if nb.stem == stem:
                return nb
    return None
