import argparse

import pytest

from apps.speech import cli
from apps.speech.lm import error_rates


def parse(argv):
    parser = argparse.ArgumentParser()
    cli.add_commands(parser.add_subparsers(dest="verb", required=True))
    return parser.parse_args(argv)


def test_verbs_exist():
    for verb in ("make-corpus", "train", "evaluate"):
        assert callable(parse([verb]).func)
    assert parse(["transcribe", "a.wav"]).decoder == "beam_lm"


def test_bad_input_is_one_line_and_exit_status_2(tmp_path, capsys):
    args = parse(["transcribe", str(tmp_path / "missing.wav")])
    assert args.func(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "missing.wav" in err and "\n" not in err
    args = parse(["train", "--set", "units=many"])
    assert args.func(args) == 2
    assert "units" in capsys.readouterr().err
    args = parse(["make-corpus", "--set", "colour=blue"])
    assert args.func(args) == 2
    assert "colour" in capsys.readouterr().err


def test_shipped_checkpoint_transcribes_a_held_out_voice(tmp_path):
    rows = dict(cli.demo(tmp_path))
    assert (tmp_path / "speech_demo.wav").is_file()
    assert (tmp_path / "speech_demo.txt").read_text().count("heard:") == 1
    heard = rows["speech: heard"]
    assert error_rates([cli.DEMO_SENTENCE], [heard])["wer"] <= 0.25, heard


@pytest.mark.parametrize("decoder", ["greedy", "beam", "beam_lm"])
def test_transcribe_command_prints_words(tmp_path, capsys, decoder):
    from apps.speech import data

    wav = tmp_path / "x.wav"
    data.synthesize("queen of hearts", "flite:slt", {"stretch": 1.0,
                                                     "pitch_scale": 1.0}, wav)
    args = parse(["transcribe", str(wav), "--words", "--decoder", decoder])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{wav}: ") and len(out.splitlines()) >= 2
