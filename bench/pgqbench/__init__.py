"""Side-by-side benchmark of pgqd and its PL/pgSQL engine against the C
pgqd 3.5 and Debian's pgq 3.5 extension.

`bench/run` is the entry point; `main` holds the command line and the plan,
the other modules one measurement area each.
"""
