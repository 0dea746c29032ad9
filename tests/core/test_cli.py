"""The `gridcase` command line: profiles, init, and errors as messages."""

import subprocess
import sys

import yaml

from gridcase.core.profile import list_profiles


def test_profile_list_shows_the_bundled_profiles(cli):
    result = cli("profile", "list")
    assert result.code == 0
    names = [line.split()[0] for line in result.out.splitlines()]
    assert {"standard", "heping"} <= set(names)
    assert "extends standard" in next(line for line in result.out.splitlines() if line.startswith("heping"))


def test_every_bundled_profile_validates(cli):
    for name, _ in list_profiles():
        result = cli("profile", "validate", name)
        assert (result.code, result.err) == (0, ""), name
        assert result.out.startswith(f"ok: {name}")


def test_show_prints_the_merged_profile_as_yaml(cli):
    result = cli("profile", "show", "standard", "--section", "roles")
    assert result.code == 0
    shown = yaml.safe_load(result.out)
    assert list(shown) == ["roles"]
    assert {r["code"] for r in shown["roles"]} >= {
        "supervisor",
        "operator",
        "shift_leader",
        "dispatcher",
        "department",
    }


def test_show_of_an_unknown_section_is_a_message(cli):
    result = cli("profile", "show", "standard", "--section", "nonsense")
    assert result.code == 1
    assert result.err.startswith("error: profile 'standard' has no section 'nonsense'")


def test_validate_without_a_profile_or_deployment_explains_what_to_do(cli, tmp_path):
    result = cli("profile", "validate", cwd=tmp_path)
    assert result.code == 1
    assert "no profile given" in result.err


def test_unknown_profile_is_a_message_not_a_traceback(cli):
    result = cli("profile", "validate", "atlantis")
    assert result.code == 1
    assert "no profile named or found at 'atlantis'" in result.err
    assert "Traceback" not in result.err


def test_summary_counts_the_standard_profile(cli):
    result = cli("profile", "summary", "standard")
    assert result.code == 0
    assert "部件 components: 6 major / 85 minor" in result.out
    assert "事件 events: 5 major / 54 minor" in result.out


def test_init_then_validate_and_use_the_deployment(cli, tmp_path):
    target = tmp_path / "Wuhu City"
    result = cli("init", target, "--from", "standard")
    assert result.code == 0, result.err
    assert (target / "gridcase.toml").is_file() and (target / "plugins" / "local.py").is_file()
    # commands in the deployment folder find its profile through gridcase.toml
    result = cli("profile", "validate", cwd=target)
    assert (result.code, result.out.split()[:2]) == (0, ["ok:", "wuhu-city"])
    result = cli("plugins", cwd=target)
    assert result.code == 0
    assert "../plugins/local.py [profile]" in result.out
    assert "hooks: before_transition" in result.out


def test_init_refuses_a_non_empty_folder_and_an_unknown_base(cli, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    result = cli("init", tmp_path / "full")
    assert result.code == 1 and "is not an empty folder" in result.err
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    result = cli("init", tmp_path / "new", "--from", "atlantis")
    assert result.code == 1 and "no profile named or found at 'atlantis'" in result.err
    assert not (tmp_path / "new").exists()


def test_init_leaves_nothing_behind_when_the_result_does_not_validate(cli, tmp_path, make_profile):
    broken = make_profile("broken", {"profile.yaml": "name: broken\nextends: standard\nroles: oops\n"})
    result = cli("init", tmp_path / "dep", "--from", str(broken))
    assert result.code == 1
    assert "/roles: expected array" in result.err
    assert not (tmp_path / "dep").exists()


def test_deployment_settings_errors_are_messages(cli, tmp_path):
    (tmp_path / "gridcase.toml").write_text("[gridcase]\nprofil = 'x'\n")
    result = cli("profile", "validate", cwd=tmp_path)
    assert result.code == 1
    assert "unknown settings profil" in result.err


def test_the_console_script_runs_as_a_process():
    result = subprocess.run(
        [sys.executable, "-m", "gridcase.core.cli.main", "profile", "validate", "standard"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout.startswith("ok: standard")
    result = subprocess.run(
        [sys.executable, "-m", "gridcase.core.cli.main", "profile", "validate", "atlantis"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
