"""`gridcase plugin new`, then `pip install -e`: the plugin is listed and its own test passes.

The package is installed into a throwaway virtual environment that sees this one's packages
(through a .pth that adds our site-packages), so the suite's own environment stays clean.
"""

import subprocess
import sys
import sysconfig

import pytest


@pytest.fixture
def scratch_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    # an "import" line in a .pth runs at start-up: addsitedir also runs our .pth files (editable finders)
    (tmp_path / "venv" / purelib.split(str(venv) + "/", 1)[1] / "_gridcase_dev.pth").write_text(
        f"import site; site.addsitedir({ours!r})\n"
    )
    return python


def test_plugin_new_then_install_lists_the_plugin(cli, tmp_path, scratch_venv):
    result = cli("plugin", "new", "city_sms", "--dir", tmp_path)
    assert result.code == 0, result.err
    package = tmp_path / "gridcase-city-sms"
    assert {p.name for p in package.iterdir()} >= {
        "pyproject.toml",
        "gridcase_city_sms",
        "tests",
        "README.md",
    }

    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(scratch_venv),
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-e",
            str(package),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr

    listed = subprocess.run(
        [scratch_venv, "-m", "gridcase.core.cli.main", "plugins"], capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    # installed is not enabled: a deployment runs what its profile names
    assert "city_sms [installed, not enabled" in listed.stdout
    assert "city_sms 0.1.0 [installed]" not in listed.stdout
    city = tmp_path / "city"
    city.mkdir()
    (city / "profile.yaml").write_text("name: city\nextends: standard\nplugins: [city_sms]\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "profile.yaml").write_text("name: other\nextends: standard\n")
    enabled = subprocess.run(
        [scratch_venv, "-m", "gridcase.core.cli.main", "plugins", "--profile", str(city)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert enabled.returncode == 0, enabled.stderr
    assert "city_sms 0.1.0 [installed]\n    hooks: register_channels" in enabled.stdout
    other = subprocess.run(
        [scratch_venv, "-m", "gridcase.core.cli.main", "profile", "show", str(tmp_path / "other")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "city_sms_gateway" not in other.stdout  # the other deployment does not run it

    own_test = subprocess.run(
        [scratch_venv, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package / "tests")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=package,
    )
    assert own_test.returncode == 0, own_test.stdout + own_test.stderr


def test_plugin_new_refuses_bad_names_and_existing_folders(cli, tmp_path):
    result = cli("plugin", "new", "City-SMS", "--dir", tmp_path)
    assert result.code == 1 and "must be lower-case" in result.err
    assert cli("plugin", "new", "ok", "--dir", tmp_path).code == 0
    result = cli("plugin", "new", "ok", "--dir", tmp_path)
    assert result.code == 1 and "is not an empty folder" in result.err
