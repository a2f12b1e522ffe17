"""What must never be published: the distinctive text of solutions and hidden checks.

The definition lives in tools/export_public.py, which refuses to export anything holding it; the
leak tests of the public export, the student notebooks and the grader's feedback search for it.
"""
from export_public import all_secrets, public_text, secret_strings  # noqa: F401
