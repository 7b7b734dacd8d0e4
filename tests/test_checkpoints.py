"""Every shipped checkpoint stays small and comes with a model card."""

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHECKPOINTS = sorted(ROOT.glob("apps/*/checkpoints/**/*.keras"))
MAX_BYTES = 15 * 2**20


def test_there_are_shipped_checkpoints():
    assert len(CHECKPOINTS) >= 2


@pytest.mark.parametrize(
    "path", CHECKPOINTS, ids=[str(p.relative_to(ROOT)) for p in CHECKPOINTS]
)
def test_checkpoint_is_small_and_has_a_model_card(path):
    assert path.stat().st_size <= MAX_BYTES
    cards = [
        folder / "MODEL_CARD.md"
        for folder in (path.parent, path.parent.parent)
        if (folder / "MODEL_CARD.md").is_file()
    ]
    assert cards, f"no MODEL_CARD.md beside {path}"
    assert "rnn-demos" in cards[0].read_text()  # the command that trained it
