"""load_job_specs: the YAML shapes a job file may take, and errors that point at the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from suanli.client import SpecFileError, load_job_specs

ONE = "name: one\ncommand: [python, a.py]\nresources: {accelerators: 'A100:8'}\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jobs.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (ONE, ["one"]),
        ("- name: a\n  command: x\n- name: b\n  command: y\n", ["a", "b"]),
        ("jobs:\n  - name: a\n    command: x\n  - name: b\n    entrypoint: y\n", ["a", "b"]),
        ("name: a\ncommand: x\n---\n- name: b\n  command: y\n- name: c\n  command: z\n", ["a", "b", "c"]),
        ("---\nname: a\ncommand: x\n---\n---\njobs:\n- name: b\n  command: y\n", ["a", "b"]),
    ],
)
def test_shapes(tmp_path: Path, text: str, names: list[str]) -> None:
    assert [s.name for s in load_job_specs(write(tmp_path, text))] == names


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: a\ncommand: x\nresources:\n  accelerators: [A100\n")
    with pytest.raises(SpecFileError) as error:
        load_job_specs(path)
    text = str(error.value)
    assert str(path) in text and "malformed YAML" in text and "line 5" in text


def test_invalid_specs_name_job_field_and_line(tmp_path: Path) -> None:
    text = "- name: fine\n  command: x\n- name: wrong\n  command: x\n  resources:\n    accelerators: ['A100:0']\n"
    with pytest.raises(SpecFileError) as error:
        load_job_specs(write(tmp_path, text))
    ((where, message),) = error.value.errors
    assert where == "job 2 'wrong', line 6"
    assert message.startswith("resources.accelerators[0].count:")


def test_every_problem_is_reported(tmp_path: Path) -> None:
    text = "- name: a\n- command: x\n  gpus: 8\n- 42\n"
    with pytest.raises(SpecFileError) as error:
        load_job_specs(write(tmp_path, text))
    problems = error.value.errors
    assert ("job 1 'a', line 1", "command: Field required") in problems
    assert any(w.startswith("job 2") and m.startswith("name:") for w, m in problems)
    assert any(w.startswith("job 2") and "line 3" in w and m.startswith("gpus:") for w, m in problems)
    assert any(w.startswith("job 3") and "found int" in m for w, m in problems)


def test_empty_missing_and_mixed_files(tmp_path: Path) -> None:
    with pytest.raises(SpecFileError, match="holds no job"):
        load_job_specs(write(tmp_path, "# nothing\n"))
    with pytest.raises(SpecFileError, match="cannot read"):
        load_job_specs(tmp_path / "absent.yaml")
    with pytest.raises(SpecFileError, match="may hold nothing else"):
        load_job_specs(write(tmp_path, "jobs: []\nextra: 1\n"))
