import json
import os

import pytest

from conftest import FIXTURES
from migm_train.schedules import full_step_plan, progress, token_counts

with open(os.path.join(FIXTURES, "reference-vectors.json")) as fh:
    REF = json.load(fh)


@pytest.mark.parametrize("key", sorted(REF["maskgit_token_counts"]))
def test_token_counts_match_reference(key):
    mode, steps, tokens = key.split("/")
    got = token_counts(int(steps.split("=")[1]), int(tokens.split("=")[1]), mode)
    assert got == REF["maskgit_token_counts"][key]
    assert sum(got) == int(tokens.split("=")[1])


@pytest.mark.parametrize("key", sorted(REF["full_step_plans"]))
def test_full_step_plan_matches_reference(key):
    steps, budget = (int(p.split("=")[1]) for p in key.split("/"))
    assert full_step_plan(steps, budget) == REF["full_step_plans"][key]


def test_plan_edge_cases():
    assert full_step_plan(16, 16) == list(range(16))
    assert full_step_plan(16, 1) == [0]
    assert full_step_plan(4, 10) == [0, 1, 2, 3]
    assert progress(0, 1) == 1.0 and progress(3, 4) == 1.0 and progress(0, 4) == 0.0


@pytest.mark.parametrize("steps,tokens,expected", [(15, 16, [1] * 12 + [2, 1, 1]), (16, 16, [1] * 16), (1, 7, [7])])
def test_token_counts_n_close_to_l_match_core(steps, tokens, expected):
    # @migm/core's tokenCounts('arccos', N, L) for these; the reference formula alone ends [..., 2, 2, 0].
    got = token_counts(steps, tokens)
    assert got == expected
    assert sum(got) == tokens and min(got) >= 1
