import pytest

from gan.errors import UserError
from gan.runs import folder as run_dir
from gan.runs.folder import RunDir, claim_run_folder, model_step, run_of_model


def test_step_numbers_are_padded_to_the_width_of_the_last_step(tmp_path):
    run = RunDir(tmp_path, total_steps=1000)
    assert run.sample_grid(0).name == "0000_image.png"
    assert run.fixed_grid(500).name == "0500fixed_image.png"
    assert run.model_file("generator", 1000).name == "generator_1000.keras"
    assert RunDir(tmp_path, total_steps=25).sample_grid(5).name == "05_image.png"


def test_a_run_resumed_with_fewer_steps_keeps_the_width_of_its_saves(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "state_01000.json").write_text("{}")
    assert RunDir(tmp_path, total_steps=3000).fixed_grid(1500).name == "01500fixed_image.png"
    assert RunDir(tmp_path, total_steps=100000).state_file(1500).name == "state_001500.json"


def test_default_run_folders_are_numbered_after_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(run_dir, "OUTPUTS_ROOT", tmp_path / "outputs")
    first = claim_run_folder(None, "/some/where/anime faces")
    second = claim_run_folder(None, "/some/where/anime faces/")
    (tmp_path / "outputs" / "anime_faces-7").mkdir()
    assert [first.name, second.name] == ["anime_faces-1", "anime_faces-2"]
    assert claim_run_folder(None, "anime faces").name == "anime_faces-8"


def test_an_explicit_out_folder_must_be_new_or_empty(tmp_path):
    assert claim_run_folder(str(tmp_path / "a" / "b"), "x").is_dir()
    (tmp_path / "empty").mkdir()
    assert claim_run_folder(str(tmp_path / "empty"), "x") == tmp_path / "empty"
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "config.json").write_text("{}")
    with pytest.raises(UserError, match="already holds files"):
        claim_run_folder(str(tmp_path / "used"), "x")
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="is a file"):
        claim_run_folder(str(tmp_path / "file"), "x")


def test_a_saved_models_run_and_step_come_from_its_path(tmp_path):
    assert run_of_model(tmp_path / "run" / "models" / "generator_0500.keras") == tmp_path / "run"
    assert run_of_model(tmp_path / "keep" / "generator_0500.keras") is None
    assert model_step(tmp_path / "run" / "models" / "generator_0500.keras") == 500
    assert model_step(tmp_path / "run" / "models" / "best_generator.keras") is None
