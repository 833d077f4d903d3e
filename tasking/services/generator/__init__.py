"""Bulk generator of plausible fictional cases, for benchmarks and for a board under load.

Everything is made up: titles and codenames come from the word lists in `vocab`,
never from real people, places or operations. Cases are drawn with a seeded
NumPy generator (skewed harm, mostly low priority, about 0.5% threat to
life), scored with one `score_arrays` call per batch, and written with the
raw driver: executemany inside one BEGIN IMMEDIATE transaction per batch on
SQLite, COPY on PostgreSQL. Each case gets its facts, its assessment and its
current score (exactly what `score_case` would store at `now`, score version
1) but no ScoreHistory row: history starts at the first rescore, which keeps
generation fast. Every case past the meeting has its decision (the score it
saw is the stored one, so it reproduces exactly) and adopted work its tasked
asset and hours; titles name a subject whose theme is the case's theme; the
moderator is never the assessor, and every variation has a note. The same
seed, count, batch size, organisation and `now` give the same cases.

The parts: `vocab` (words and mix), `org` (what cases point at), `titles`,
`decide` (decisions), `arrays` (helpers), `draw` (a batch of cases, scored)
and `write` (the database writes and `generate_cases`).
"""

from __future__ import annotations

from tasking.services.generator.write import generate_cases

__all__ = ["generate_cases"]
