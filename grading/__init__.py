"""The nbgrader course of the lab: built from ``notebooks/*.ipynb`` and :mod:`grading.spec`, never edited by hand.

``python -m grading.build`` writes the course source (``grading/source/``), ``python -m grading.demo`` runs the
whole pipeline (release, three submissions, autograding, feedback, scores). Everything generated is git-ignored.
"""
