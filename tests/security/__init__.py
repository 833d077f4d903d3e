"""The security battery (docs/reliability.md A1-A10, U5; issue 13 item 7).

Every test walks the running application's URL map, so a route added later is
attacked without anyone writing a test for it. Each route needs one registered
legitimate call (`ACTIONS` in routes.py: who, which record, a valid body) and
each path parameter a way to be filled (`FILLERS`) and a decision on whether it
names need-to-know records (`SCOPED_ARGS`/`UNSCOPED_ARGS` in test_a2_idor.py);
until then the battery fails with a message saying what to add.

- test_a1_a3_access: deny by default, the public allowlist, privilege climbing.
- test_a2_idor: IDOR on every id-taking route; no page or answer names a case
  the viewer may not see (two BCUs, the asset owner, clearance).
- test_a5_sign_in: session fixation, open redirect after sign-in.
- test_a7_csrf_and_writes: CSRF, reads that never write, mass assignment.
- test_a8_a10_headers_fail_closed: headers everywhere, crashes and failing
  authorisation helpers deny.
- test_a9_input: SQL injection, 1 MB bodies, 100k-character fields and params.
- test_a9_stored_xss: stored markup and CSV formulas through every text field.
- test_u5_messages: task messages carry ids and short codes only.
"""
