from gridcase.core.settings import DEFAULT_DATABASE_URL, load_settings


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
