import re
from pathlib import Path

import pytest

from suanli.domain.errors import InvalidSpec
from suanli.settings import load_settings


def test_defaults_put_sqlite_under_the_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUANLI_DATABASE_URL", raising=False)
    settings = load_settings(home=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'suanli.db'}"
    assert settings.profile().name == "default"


def test_profile_by_name_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUANLI_SCHEDULER_PROFILE", "spread")
    assert load_settings(home=tmp_path).profile().scores == {"price": 1.0, "load-balance": 1.0}
    monkeypatch.setenv("SUANLI_SCHEDULER_PROFILE", "cheapest")
    with pytest.raises(InvalidSpec, match="unknown scheduler profile 'cheapest'; available: .*default, .*fifo"):
        load_settings(home=tmp_path).profile()


def test_config_file_sets_profile_and_accelerators(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUANLI_SCHEDULER_INTERVAL_S", raising=False)
    (tmp_path / "config.yaml").write_text(
        "scheduler:\n"
        "  queue_order: fifo\n"
        "  scores: {carbon: 2, price: 1}\n"
        "accelerators:\n"
        "  - {name: X1000, memory_gb: 96, throughput: 2.5, aliases: [x1k]}\n"
        "scheduler_interval_s: 0.5\n"
    )
    monkeypatch.setenv("SUANLI_SCHEDULER_INTERVAL_S", "2")  # the environment wins over the file
    settings = load_settings(home=tmp_path)
    profile = settings.profile()
    assert (profile.queue_order, profile.scores) == ("fifo", {"carbon": 2, "price": 1})
    assert settings.catalog().canonical("x1k") == "X1000"
    assert settings.scheduler_interval_s == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just a list\n", "must hold a mapping"),
        ("schedular: {queue_order: fifo}\n", "unknown setting(s) schedular; known: accelerators"),
        ("scheduler: {scores: {fastest: 1}}\n", "unknown score plugin 'fastest'"),
        ("accelerators: [{name: X, throughput: -1}]\n", "accelerators[0]"),
    ],
)
def test_bad_config_is_refused_with_a_clear_message(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "config.yaml").write_text(text)
    with pytest.raises(InvalidSpec, match=re.escape(message)):
        settings = load_settings(home=tmp_path)
        settings.profile()
        settings.catalog()
