"""Hidden checks, one module per assignment; :mod:`grading.build` injects a module's source into graded cells."""
