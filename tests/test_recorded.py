"""gannotes.recorded: the seed-separation rule and the printed table, on hand-made records."""

import pytest

from gannotes.recorded import recorded_table, separated

VARIANTS = {
    "plain": {"modes": [10, 14, 12], "modes_summary": {"mean": 12.0, "sd": 2.0}},
    "up": {"modes": [15, 16, 20], "modes_summary": {"mean": 17.0, "sd": 2.65}},
    "touching": {"modes": [14, 18, 19], "modes_summary": {"mean": 17.0, "sd": 2.65}},
    "down": {"modes": [5, 9, 7], "modes_summary": {"mean": 7.0, "sd": 2.0}},
    "inside": {"modes": [11, 13, 12], "modes_summary": {"mean": 12.0, "sd": 1.0}},
}


def test_separated_needs_every_seed_beyond_every_baseline_seed():
    # "touching" ties the plain GAN's best seed (14): not above; "inside" overlaps
    assert separated(VARIANTS, "modes") == {"above": ["up"], "below": ["down"]}
    assert separated(VARIANTS, "modes", baseline="down")["above"] == [
        "plain",
        "up",
        "touching",
        "inside",
    ]
    with pytest.raises(ValueError, match="baseline 'none' is not a variant"):
        separated(VARIANTS, "modes", baseline="none")


def test_recorded_table_shows_each_seed_and_the_mean():
    section = {"steps": 2000, "seeds": [0, 1, 2], "command": "python b.py", "variants": VARIANTS}
    text = recorded_table(section, ["modes"]).splitlines()
    assert text[0] == "RECORDED (not this run): 2,000 steps, seeds 0, 1, 2, `python b.py`"
    assert text[1].split() == ["plain", "modes", "10", "14", "12", "(12", "+-", "2)"]
    assert len(text) == 1 + len(VARIANTS)
