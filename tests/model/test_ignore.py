"""Ignore rules: linear-time matching whatever the rule, the same answers as the glob semantics
always gave, and unparsable rules refused by the model (the CRD refuses them too, see
tests/api/test_resources_crd_validation.py)."""

from __future__ import annotations

import fnmatch
import random
import re
import time

import pytest
from pydantic import ValidationError

from jiradrift.api.resources import DriftSettings
from jiradrift.model.ignore import IgnoreRules, InvalidIgnoreRule

# The rule from issue 12: a backtracking regex took 34.5 s on one 38-character path.
PATHOLOGICAL = "workflow/*:**?**?**?**?**?**?**?**?**?**?**?**?~"
PATH_38 = "transitions[12].properties.description"


def test_the_pathological_rule_is_fast() -> None:
    assert len(PATH_38) == 38
    item = IgnoreRules([PATHOLOGICAL]).for_key("workflow/10001")
    start = time.perf_counter()
    for _ in range(60):  # `jiradrift diff` over 60 changed workflows
        assert not item.hides(PATH_38)
    assert item.hides(PATH_38 + "~")
    assert time.perf_counter() - start < 0.5


def test_the_worst_rule_the_crd_admits_on_a_long_path_is_fast() -> None:
    rule = "*" * 200 + ":" + "**?" * 100 + "~"  # 512 characters, the CRD's maxLength
    path = "a.b[1]" * 1000  # far longer than any real change path
    rules = IgnoreRules([rule] * 100)  # the CRD's maxItems
    start = time.perf_counter()
    item = rules.for_key("k" * 300)
    assert not item.hides(path)
    assert time.perf_counter() - start < 5.0


# --- the semantics are unchanged: the regexes the matcher replaced serve as the oracle ---------


def _old_path_regex(glob: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(glob):
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob.startswith("[*]", i):
            out.append(r"\[[^\]]+\]")
            i += 3
        elif glob[i] == "*":
            out.append(r"[^.\[]*")
            i += 1
        elif glob[i] == "?":
            out.append(r"[^.\[]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("(?:" + "".join(out) + r")(?:$|(?=[.\[]))")


PATH_PIECES = ["*", "**", "?", "[*]", "[0]", "[12]", ".", "a", "b", "name", "[", "]", "1", "\n", "٣"]
PATH_TEXT = ["a", "b", ".", "[", "]", "1", "2", "name", "\n", "٣", "x"]
KEY_PIECES = ["*", "?", "a", "b", "-", "!", "]", "[", "[a-c]", "[!b]", "[]a]", "[z-a]", "[!z-a]", "[a-]", "/", "\\"]
KEY_PIECES += ["[b-a-cd]", "[!-a]", "[^a]", "[a-c-e]", "[&~|]", "[]-a]", "[!]-b]", "[--/]"]
KEY_TEXT = ["a", "b", "c", "d", "-", "!", "]", "[", "/", "\\", "^", "&", "z", "\n", "e"]


def test_path_globs_match_what_the_regexes_matched() -> None:
    rng = random.Random(12)
    for _ in range(4000):
        glob = "".join(rng.choice(PATH_PIECES) for _ in range(rng.randint(1, 6)))
        if glob.strip() != glob:
            continue  # a rule's surrounding whitespace is not part of it
        rules = IgnoreRules([f"k:{glob}"]).for_key("k")
        oracle = _old_path_regex(glob)
        for _ in range(8):
            path = "".join(rng.choice(PATH_TEXT) for _ in range(rng.randint(1, 10)))
            assert rules.hides(path) == bool(oracle.match(path)), (glob, path)


def test_key_globs_match_what_fnmatch_matched() -> None:
    rng = random.Random(7)
    for _ in range(4000):
        glob = "".join(rng.choice(KEY_PIECES) for _ in range(rng.randint(1, 5)))
        rules = IgnoreRules([glob])
        for _ in range(8):
            key = "".join(rng.choice(KEY_TEXT) for _ in range(rng.randint(0, 6)))
            assert rules.for_key(key).whole_item == fnmatch.fnmatchcase(key, glob), (glob, key)


@pytest.mark.parametrize(
    ("rule", "path", "hidden"),
    [
        ("workflow/*:transitions[*].description", "transitions[3].description", True),
        ("workflow/*:transitions[*].description", "transitions[id=3].description", True),
        ("workflow/*:transitions[*].description", "transitions[].description", False),
        ("workflow/*:transitions[*].description", "transitions.description", False),
        ("workflow/*:transitions", "transitions[3].name", True),
        ("workflow/*:transitions", "transitionsX", False),
        ("workflow/*:**.avatarUrls", "a.b[2].avatarUrls.16x16", True),
        ("workflow/*:*.name", "a.b.name", False),
        ("workflow/*:t?[0]", "tx[0]", True),
    ],
)
def test_documented_examples(rule: str, path: str, hidden: bool) -> None:
    assert IgnoreRules([rule]).for_key("workflow/1").hides(path) is hidden


# --- unparsable rules -----------------------------------------------------------------------

BAD_RULES = ["field/*:", ":description", "", "   ", " field/*: ", "\u3000:x"]


@pytest.mark.parametrize("rule", BAD_RULES)
def test_unparsable_rules_are_refused_naming_the_rule(rule: str) -> None:
    with pytest.raises(InvalidIgnoreRule, match=re.escape(repr(rule))):
        IgnoreRules([rule])


@pytest.mark.parametrize("rule", BAD_RULES)
def test_the_tenant_model_refuses_unparsable_rules(rule: str) -> None:
    with pytest.raises(ValidationError) as err:
        DriftSettings.model_validate({"ignore": ["field/*:description", rule]})
    assert repr(rule) in str(err.value) and "ignore" in str(err.value)


def test_the_tenant_model_accepts_parsable_rules() -> None:
    rules = ["field/*:description", "workflow/*", " field/x ", "\x1c:x", PATHOLOGICAL]
    assert DriftSettings.model_validate({"ignore": rules}).ignore == rules
