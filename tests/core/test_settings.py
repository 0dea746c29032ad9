import pytest

from gridcase.core.settings import DEFAULT_DATABASE_URL, SettingsError, load_settings


def test_settings_file_paths_are_relative_to_the_file(tmp_path, monkeypatch):
    (tmp_path / "profile").mkdir()
    (tmp_path / "gridcase.toml").write_text(
        '[gridcase]\nprofile = "profile"\ndatabase_url = "sqlite:///city.db"\n'
    )
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.profile == str(tmp_path / "profile")
    assert settings.database_url == f"sqlite:///{tmp_path / 'city.db'}"


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    (tmp_path / "gridcase.toml").write_text('[gridcase]\nprofile = "standard"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GRIDCASE_DATABASE_URL", "postgresql+psycopg://db/city")
    monkeypatch.setenv("GRIDCASE_PROFILE", "heping")
    settings = load_settings()
    assert (settings.profile, settings.database_url) == ("heping", "postgresql+psycopg://db/city")


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert (settings.profile, settings.database_url, settings.source) == (None, DEFAULT_DATABASE_URL, None)


def test_threads_per_worker_default_by_database_and_can_be_set(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings().worker_threads() == 2  # SQLite writes are serial
    monkeypatch.setenv("GRIDCASE_DATABASE_URL", "postgresql+psycopg://db/city")
    assert load_settings().worker_threads() == 4
    monkeypatch.setenv("GRIDCASE_THREADS", "8")
    assert load_settings().worker_threads() == 8


def test_bad_thread_count_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "gridcase.toml").write_text("[gridcase]\nthreads = 0\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match="threads must be a whole number from 1 to 256"):
        load_settings()


def test_durations_come_from_the_environment_or_the_file_and_bad_ones_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert (load_settings().sweep_seconds, load_settings().identity_seconds) == (30, 1)
    (tmp_path / "gridcase.toml").write_text("[gridcase]\nidentity_seconds = 0\nsweep_seconds = 5\n")
    assert (load_settings().sweep_seconds, load_settings().identity_seconds) == (5, 0)
    monkeypatch.setenv("GRIDCASE_IDENTITY_SECONDS", "2.5")
    assert load_settings().identity_seconds == 2.5
    for bad in ("-1", "soon", "inf", "nan"):
        monkeypatch.setenv("GRIDCASE_IDENTITY_SECONDS", bad)
        with pytest.raises(SettingsError, match=r"identity_seconds must be (0 or more|a number of) seconds"):
            load_settings()


def test_evidence_goes_to_the_deployments_folder_never_the_working_directory(tmp_path, monkeypatch):
    from gridcase.core.cases.evidence import default_root

    monkeypatch.delenv("GRIDCASE_EVIDENCE_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    deployment = tmp_path / "city"
    deployment.mkdir()
    (deployment / "gridcase.toml").write_text("[gridcase]\n", encoding="utf-8")
    assert default_root("sqlite:////srv/x.db", deployment / "gridcase.toml") == deployment / "evidence"
    assert default_root(f"sqlite:///{tmp_path}/demo/c.db") == tmp_path / "demo" / "evidence"
    assert default_root("postgresql+psycopg://db/city") == tmp_path / "data" / "gridcase" / "evidence"
    monkeypatch.setenv("GRIDCASE_EVIDENCE_DIR", "/var/lib/city/evidence")
    assert str(default_root("sqlite:///x.db")) == "/var/lib/city/evidence"
