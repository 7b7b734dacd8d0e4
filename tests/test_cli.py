import types

from apps import cli


def test_every_app_folder_with_a_cli_is_listed():
    assert {"lesson", "recsys", "speech"} <= set(cli.available_apps())


def test_an_app_without_a_verb_prints_its_help(capsys):
    assert cli.main(["lesson"]) == 2
    assert "usage: rnn-demos lesson" in capsys.readouterr().out


def test_demo_runs_each_app_and_reports_a_failure(tmp_path, capsys, monkeypatch):
    def good_demo(out_dir):
        out_dir.mkdir(parents=True)
        return [("score", "0.97")]

    def broken_demo(out_dir):
        raise FileNotFoundError("checkpoint x.keras not found")

    apps = {"lesson": good_demo, "recsys": broken_demo}
    monkeypatch.setattr(
        cli,
        "_app_cli",
        lambda name: types.SimpleNamespace(
            demo=apps.get(name), add_commands=lambda verbs: None
        ),
    )
    code = cli.main(["demo", "--out", str(tmp_path), "--apps", "lesson", "recsys"])
    out = capsys.readouterr().out
    assert code == 1
    assert "lesson  score" in out and "0.97" in out
    assert "FileNotFoundError: checkpoint x.keras not found" in out
    assert (tmp_path / "lesson").is_dir()
