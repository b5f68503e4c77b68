"""Cell definitions of the courseware notebooks, one module per notebook (built by tools/build_notebooks.py).

Each module defines ``FILENAME`` (the notebook's name under ``notebooks/``), ``TITLE`` and ``cells()``, which
returns the notebook's cells built with :mod:`notebooks.common` (``md``, ``code``, the shared parameter and
setup cells). Keeping the cells in Python makes the notebooks reproducible and reviewable as code.

To add a notebook (05-content-trust, 06-admission-control ...), write ``nbNN_name.py`` with those three names and
list it in :data:`MODULES` in course order; ``python tools/build_notebooks.py`` then writes it.
"""

MODULES = [
    "nb00_setup",
    "nb01_imagepullsecrets",
    "nb02_using_pull_secrets",
    "nb03_multi_registry",
    "nb04_cloud_registries",
    "nb05_content_trust",
    "nb06_admission_control",
    "nb07_troubleshooting",
    "nb08_verification",
    "nb09_cleanup",
]
