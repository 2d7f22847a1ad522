"""The production shape: compose file, image and settings hold together."""

import os
import re
import secrets
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from django.conf import settings
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_compose_has_every_service_with_healthcheck_and_restart_policy():
    assert set(SERVICES) == {"postgres", "redis", "web", "worker", "beat"}
    for name, service in SERVICES.items():
        assert service.get("restart") == "unless-stopped", name
        assert service.get("healthcheck", {}).get("test"), name
    assert "pgdata" in COMPOSE["volumes"]
    assert any(v.startswith("pgdata:") for v in SERVICES["postgres"]["volumes"])
    for app in ("web", "worker", "beat"):
        depends = SERVICES[app]["depends_on"]
        assert (
            depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy"
        )


def test_web_is_published_on_loopback_only_behind_the_trusted_proxy():
    # NUM_PROXIES=1 trusts the last X-Forwarded-For hop: only the proxy on this host may
    # reach gunicorn, or anyone could name their own address and escape the limits.
    example = (ROOT / ".env.example").read_text()
    assert re.search(r"^NUM_PROXIES=[1-9]", example, re.M)
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            spec = port if isinstance(port, str) else f"{port.get('host_ip', '')}:{port}"
            assert spec.startswith(("127.0.0.1:", "[::1]:")), f"{name} publishes {port}"
    assert SERVICES["web"]["ports"], "web is reachable for the proxy on loopback"


def _commands(service):
    command = service["command"]
    text = command[-1] if command[:2] == ["sh", "-c"] else " ".join(command)
    return [part.strip() for part in text.split("&&")]


def test_every_command_the_compose_file_runs_exists_in_the_project():
    django_commands = get_commands()
    seen = []
    for name in ("web", "worker", "beat"):
        service = SERVICES[name]
        lines = [*_commands(service), " ".join(service["healthcheck"]["test"][1:])]
        for line in lines:
            words = line.replace("exec ", "").split()
            seen.append(words[0])
            if words[:2] == ["python", "manage.py"]:
                assert words[2] in django_commands, line
            elif words[0] == "gunicorn":
                assert words[1] == "config.wsgi" and (ROOT / "config" / "wsgi.py").exists()
                assert "python:config.gunicorn" in words and (ROOT / "config/gunicorn.py").exists()
            elif words[0] == "celery":
                assert words[1:3] == ["-A", "config"] and (ROOT / "config/celery_app.py").exists()
                assert words[3] in {"worker", "beat"}
            elif words[:2] == ["python", "-c"]:
                continue
            else:
                raise AssertionError(f"unknown command in compose: {line}")
    assert {"python", "gunicorn", "celery"} <= set(seen)


def test_every_setting_read_from_the_environment_is_documented_in_env_example():
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    read = set()
    for path in (ROOT / "config").rglob("*.py"):
        read |= set(re.findall(r'env(?:\.[a-z]+)?\(\s*"([A-Z][A-Z0-9_]+)"', path.read_text()))
    compose_vars = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    missing = (read | compose_vars) - documented - {"READ_DOT_ENV_FILE"}
    assert not missing, f"document in .env.example: {sorted(missing)}"


def test_image_runs_as_a_non_root_user_from_a_slim_base():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.M)
    assert re.search(r"^USER app$", dockerfile, re.M)
    assert "compilemessages" in dockerfile and "collectstatic" in dockerfile


def _dockerfile_copies() -> set[str]:
    """What the image's build stage copies from the project (COPY src... dest)."""
    copied = set()
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].upper() != "COPY" or any(w.startswith("--from") for w in words):
            continue
        sources = [w for w in words[1:-1] if not w.startswith("--")]
        copied |= {os.path.normpath(source) for source in sources}
    return copied


def test_image_copies_every_app_and_package_the_service_runs():
    """An app in INSTALLED_APPS (or a package pyproject installs) left out of the image
    stops every container at start; nothing else here would notice, as no test builds it."""
    copied = _dockerfile_copies()
    apps = {app.split(".")[0] for app in settings.INSTALLED_APPS}
    local_apps = {app for app in apps if (ROOT / app).is_dir()}
    assert {"scheduler", "sync", "api", "workspace"} <= local_apps  # the check sees them
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {
        pattern.rstrip("*").rstrip(".")
        for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    folders = {
        str(Path(folder).relative_to(ROOT))
        for folder in [*settings.LOCALE_PATHS, *settings.TEMPLATES[0]["DIRS"]]
    }
    needed = local_apps | packages | folders | {"manage.py", "pyproject.toml"}
    if "." not in copied:
        missing = needed - copied
        assert not missing, f"the Dockerfile does not copy {sorted(missing)}"


def test_production_settings_pass_check_deploy_and_require_a_secret_key():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "afspraak.example.nl",
        "EMAIL_URL": "smtp+tls://user:password@smtp.example.nl:587",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    env.pop("SECRET_KEY")
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "SECRET_KEY" in done.stderr


def test_production_settings_refuse_to_start_without_email_url():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "afspraak.example.nl",
    }
    env.pop("EMAIL_URL", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and "EMAIL_URL" in done.stderr


def test_urllib3_is_upstream_so_outbound_pinning_holds():
    """The pinned outbound HTTP is built and tested on upstream urllib3. urllib3-future
    (brought by niquests, which python-caldav needed) installs over it at every start
    (its versions end in .9xx); scripts/ci-production checks a plain `pip install .` too."""
    import urllib3

    from sync.outbound import PinnedAdapter

    patch = int(urllib3.__version__.split(".")[2].split("+")[0].split("rc")[0])
    assert patch < 900, urllib3.__version__
    assert PinnedAdapter.__mro__  # importable against this urllib3
