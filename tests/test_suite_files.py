"""Suite files are data with bounds: every key that sizes the judge's work is capped by name."""

import re

import pytest

from ibp_evolve.judge.suites import MAX_DELTA, SuiteError, load_suite, parse_suite

BUBBLE = 'family = "bubble"\ntargets = [[2, 1]]\n'
TRIANGLE_BOX = 'family = "triangle_box"\n'


@pytest.mark.parametrize("text, key, words", [
    (BUBBLE + "delta_r = 50\n", "delta_r", "50 is over the cap of 6 (MAX_DELTA)"),
    (BUBBLE + "delta_s = 7\n", "delta_s", "7 is over the cap of 6 (MAX_DELTA)"),
    (TRIANGLE_BOX + "targets = [[50, 1, 1, 1, 1, 1, 0]]\n", "targets[0]",
     "index 50 at position 1 is outside -30..30 (MAX_INDEX)"),
    (TRIANGLE_BOX + "targets = [[1, 1, 1, 1, 1, 1, -99999999999999999]]\n", "targets[0]",
     "outside -30..30"),
    ('family = "bubble"\ntargets = [' + ", ".join(f"[{i % 30 + 1}, {i // 30 - 30}]"
                                                  for i in range(1001)) + "]\n",
     "targets", "1001 targets, over the cap of 1000 (MAX_TARGETS)"),
    (BUBBLE + "name = 7\n", "name", "non-empty string"),
    (BUBBLE + "description = [1]\n", "description", "must be a string"),
    ('family = "bubble"\ntargets = ' + "[" * 100_000 + "]" * 100_000, None,
     "nested too deeply"),
])
def test_suite_keys_that_size_the_work_are_capped(text, key, words):
    with pytest.raises(SuiteError) as err:
        parse_suite(text, origin="bad.toml")
    message = str(err.value)
    assert "bad.toml" in message and "\n" not in message
    if key:
        assert f"key '{key}'" in message
    assert words in message


def test_the_widest_allowed_box_and_extreme_indices_load():
    suite = parse_suite(BUBBLE.replace("[[2, 1]]", "[[30, -30]]")
                        + f"delta_r = {MAX_DELTA}\ndelta_s = {MAX_DELTA}\n")
    assert (suite.delta_r, suite.delta_s, suite.targets) == (6, 6, ((30, -30),))


@pytest.mark.parametrize("raw, words", [
    (b"\xef\xbb\xbf" + BUBBLE.encode(), "byte-order mark"),
    (b'family = "b\xfcbble"\n', "is not UTF-8 text"),
])
def test_suite_files_that_are_not_utf8_text_are_one_line_errors(tmp_path, raw, words):
    path = tmp_path / "odd.toml"
    path.write_bytes(raw)
    with pytest.raises(SuiteError, match=re.escape(words)):
        load_suite(path)
