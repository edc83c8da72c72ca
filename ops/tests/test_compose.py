"""deploy/docker-compose.yml: schema, health checks, limits, volumes, secrets, HTTPS.

No Docker engine is needed: the file is validated against the compose-spec JSON schema (as
written and after interpolation with sample values), and its structure is asserted here.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from conftest import DEPLOY, REPO, load_yaml, run

COMPOSE = DEPLOY / "docker-compose.yml"

# Service -> path of its state inside the container; each must be a named volume.
STATEFUL = {
    "preflight": "/data",
    "backup": "/backups",
    "postgres": "/var/lib/postgresql/data",
    "redis": "/data",
    "prometheus": "/prometheus",
    "alertmanager": "/alertmanager",
    "grafana": "/var/lib/grafana",
    "loki": "/loki",
    "alloy": "/var/lib/alloy/data",
    "caddy": "/data",
}
REQUIRED_SERVICES = set(STATEFUL) | {"migrate", "blackbox"}
# Secrets that may be absent: the previous encryption key exists only during a rotation.
# Secrets a deployment may leave empty: a key only during rotation, a token only once Grafana
# has a service account for preflight.
OPTIONAL_SECRETS = {"ENCRYPTION_KEY_PREVIOUS", "GRAFANA_TOKEN"}

# Environment keys that hold secrets: their values must come from ${...} interpolation.
SECRET_KEY_RE = re.compile(r"(PASSWORD|SECRET|TOKEN|(^|_)KEY($|_)|CREDENTIAL|_AUTH$)")
# "${NAME}", "${NAME:-default}", "${NAME-default}", "${NAME:?message}", "${NAME?message}"
VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def interpolate_text(text: str, env: dict[str, str]) -> str:
    """Compose-style interpolation of one value: raises KeyError on an unset :? variable."""

    def sub(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        value = env.get(name)
        if op in (":-", "-"):
            if value is None or (op == ":-" and value == ""):
                return arg
            return value
        if op in (":?", "?"):
            if value is None or (op == ":?" and value == ""):
                raise KeyError(f"{name}: {arg}")
            return value
        return value or ""

    return VAR_RE.sub(sub, text.replace("$$", "\0")).replace("\0", "$")


def interpolate(node, env: dict[str, str]):
    """Interpolates every string value of the parsed file (as Compose does; comments are not)."""
    if isinstance(node, dict):
        return {k: interpolate(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, env) for v in node]
    if isinstance(node, str):
        return interpolate_text(node, env)
    return node


def used_variables(compose: dict) -> set[str]:
    return {m.group(1) for _, value in walk_strings(compose) for m in VAR_RE.finditer(value)}


def sample_env() -> dict[str, str]:
    """Every variable of .env.example, with a dummy value for the empty (secret) ones."""
    env = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        m = re.match(r"^([A-Z_][A-Z0-9_]*)=(.*)$", line)
        if m:
            env[m.group(1)] = m.group(2) or f"test-value-for-{m.group(1).lower()}"
    return env


def walk_strings(node, path=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk_strings(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk_strings(v, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def env_items(service: dict):
    env = service.get("environment") or {}
    if isinstance(env, list):
        for item in env:
            k, _, v = item.partition("=")
            yield k, v
    else:
        yield from env.items()


def check_jsonschema(path) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)])


def test_compose_validates_against_compose_spec_schema():
    result = check_jsonschema(COMPOSE)
    assert result.returncode == 0, result.stdout


def test_compose_validates_after_interpolation(tmp_path, compose):
    rendered = tmp_path / "docker-compose.yml"
    rendered.write_text(yaml.safe_dump(interpolate(compose, sample_env())))
    result = check_jsonschema(rendered)
    assert result.returncode == 0, result.stdout
    doc = yaml.safe_load(rendered.read_text())
    # Interpolated numbers and addresses are well-formed.
    assert doc["services"]["caddy"]["networks"]["edge"]["ipv4_address"] == "10.250.0.10"
    assert doc["services"]["preflight"]["environment"]["DATABASE_URL"].startswith("postgres://preflight:")


def test_every_interpolation_is_well_formed(compose):
    for path, value in walk_strings(compose):
        text = value.replace("$$", "")
        for m in re.finditer(r"\$\{[^}]*\}?", text):
            assert VAR_RE.fullmatch(m.group(0)), f"{path}: malformed interpolation {m.group(0)!r}"
        # A lone "$" would be taken for a variable by Compose.
        assert not re.search(r"\$(?![{])", text), f"{path}: unescaped $ (write $$)"


def test_every_variable_is_documented_in_env_example(compose):
    documented = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", (DEPLOY / ".env.example").read_text(), re.M))
    used = used_variables(compose)
    assert not used - documented, f"not in deploy/.env.example: {sorted(used - documented)}"


def test_env_example_has_no_real_secrets():
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        m = re.match(r"^([A-Z_][A-Z0-9_]*)=(.*)$", line)
        if m and SECRET_KEY_RE.search(m.group(1)):
            assert m.group(2) == "", f"{m.group(1)} must be empty in .env.example (generate it)"


def test_env_file_is_gitignored():
    patterns = (REPO / ".gitignore").read_text().split()
    assert ".env" in patterns or "deploy/.env" in patterns


def test_required_services_present(compose):
    assert REQUIRED_SERVICES <= set(compose["services"]), sorted(REQUIRED_SERVICES - set(compose["services"]))


def test_every_service_has_healthcheck_restart_policy_and_limits(compose):
    for name, svc in compose["services"].items():
        hc = svc.get("healthcheck")
        assert hc and hc.get("test") and not hc.get("disable"), f"{name}: no healthcheck"
        assert svc.get("restart") in ("always", "unless-stopped", "on-failure", "no"), f"{name}: no restart policy"
        limits = (svc.get("deploy") or {}).get("resources", {}).get("limits", {})
        assert limits.get("cpus") and limits.get("memory"), f"{name}: no cpu/memory limits"
        assert svc.get("logging", {}).get("options", {}).get("max-size"), f"{name}: unbounded container logs"


def test_only_one_shot_jobs_do_not_restart(compose):
    for name, svc in compose["services"].items():
        if svc["restart"] == "no":
            assert name == "migrate", f"{name} would stay down after a crash or reboot"


def test_stateful_services_use_named_volumes(compose):
    named = set(compose.get("volumes") or {})
    for name, target in STATEFUL.items():
        mounts = compose["services"][name].get("volumes", [])
        sources = [m.split(":")[0] for m in mounts if m.split(":")[1] == target]
        assert sources, f"{name}: nothing mounted at {target}"
        assert sources[0] in named, f"{name}: {target} must be a named volume, not {sources[0]}"
    used = {m.split(":")[0] for s in compose["services"].values() for m in s.get("volumes", [])}
    assert named <= used, f"declared but unused volumes: {sorted(named - used)}"


def test_bind_mounts_are_read_only_and_exist(compose):
    for name, svc in compose["services"].items():
        for mount in svc.get("volumes", []):
            parts = mount.split(":")
            src = parts[0]
            if not (src.startswith("./") or src.startswith("/")):
                continue
            assert parts[-1] == "ro", f"{name}: bind mount {mount} must be read-only"
            if src.startswith("./"):
                assert (DEPLOY / src).exists(), f"{name}: {src} does not exist in deploy/"


def test_images_are_pinned(compose):
    for name, svc in compose["services"].items():
        image = svc.get("image", "")
        assert image, f"{name}: no image"
        if image.startswith("${"):
            continue
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin a version, not {image!r}"


def test_preflight_waits_for_healthy_postgres_and_redis_and_migrations(compose):
    deps = compose["services"]["preflight"]["depends_on"]
    assert deps["postgres"]["condition"] == "service_healthy"
    assert deps["redis"]["condition"] == "service_healthy"
    assert deps["migrate"]["condition"] == "service_completed_successfully"
    assert compose["services"]["migrate"]["command"] == ["preflight", "migrate", "up"]
    assert compose["services"]["preflight"]["environment"]["MIGRATE_ON_START"] == "false"


def test_preflight_container_contract(compose):
    svc = compose["services"]["preflight"]
    env = svc["environment"]
    assert svc["command"] == ["preflight", "serve"]
    assert svc["healthcheck"]["test"] == ["CMD", "preflight", "healthcheck"]
    assert env["HOST"] == "0.0.0.0", "in a container the server must listen on all interfaces"
    assert env["ENVIRONMENT"] == "production"
    assert env["LOG_FORMAT"] == "json"
    assert "*" not in env["ALLOWED_ORIGINS"]
    assert "ports" not in svc, "preflight is reached through Caddy only"


def test_backup_service_runs_the_scheduler(compose):
    svc = compose["services"]["backup"]
    assert svc["command"] == ["preflight", "backup", "--schedule"]
    assert svc["environment"]["BACKUP_SCHEDULE"]
    # The server and the backup runner share the same configuration (one YAML anchor).
    assert svc["environment"] == compose["services"]["preflight"]["environment"]


def test_no_secret_literals(compose):
    for name, svc in compose["services"].items():
        for key, value in env_items(svc):
            if SECRET_KEY_RE.search(key):
                assert isinstance(value, str) and "${" in value, f"{name}.{key} must be a ${{...}} reference"
                if key in OPTIONAL_SECRETS:
                    assert value == f"${{{key}:-}}", f"{name}.{key}: optional, empty by default"
                else:
                    assert re.search(r"\$\{[A-Z_]+:\?", value), f"{name}.{key}: use ${{VAR:?message}} so it is required"
    for path, value in walk_strings(compose):
        # Credentials inside URLs: the password part must be interpolated.
        for m in re.finditer(r"://[^:/@\s]*:([^@\s]+)@", value):
            assert m.group(1).startswith("${"), f"{path}: literal password in URL"
        # Long random-looking strings (hex or base64) are keys that slipped in.
        assert not re.search(r"(?<![\w$])[A-Fa-f0-9]{32,}(?!\w)", value), f"{path}: key-like literal"
        assert not re.search(r"(?<![\w$/])[A-Za-z0-9+/]{40,}={0,2}(?!\w)", value), f"{path}: key-like literal"


def test_secrets_are_required(compose):
    """Without deploy/.env the file does not interpolate: every secret is ${VAR:?...}."""
    with pytest.raises(KeyError):
        interpolate(compose, {})
    env = sample_env()
    for var in ("SECRET_KEY", "ENCRYPTION_KEY", "ADMIN_PASSWORD", "METRICS_TOKEN", "POSTGRES_PASSWORD",
                "REDIS_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "SMTP_PASSWORD", "DOMAIN"):
        partial = {k: v for k, v in env.items() if k != var}
        with pytest.raises(KeyError, match=var):
            interpolate(compose, partial)


def test_public_ports_only_on_caddy(compose):
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            if name == "caddy":
                continue
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} must bind to 127.0.0.1 only"
    caddy_ports = {str(p).split(":")[0] for p in compose["services"]["caddy"]["ports"]}
    assert {"80", "443"} <= caddy_ports


def test_caddy_serves_domain_over_https_and_redirects():
    caddyfile = (DEPLOY / "caddy" / "Caddyfile").read_text()
    assert re.search(r"^\{\$DOMAIN\}\s*\{", caddyfile, re.M), "site block for {$DOMAIN}"
    assert re.search(r"^http://\{\$DOMAIN\}\s*\{\s*\n\s*redir https://\{host\}\{uri\} permanent", caddyfile, re.M), \
        "HTTP must redirect to HTTPS"
    assert "reverse_proxy preflight:8000" in caddyfile
    assert re.search(r"handle /metrics\*\s*\{\s*\n\s*respond 404", caddyfile), "/metrics must not be public"
    assert "tls internal" not in caddyfile, "automatic (ACME) certificates, not Caddy's internal CA"


def test_trusted_proxy_is_caddys_fixed_address(compose):
    caddy_ip = compose["services"]["caddy"]["networks"]["edge"]["ipv4_address"]
    assert compose["services"]["preflight"]["environment"]["TRUSTED_PROXIES"] == caddy_ip
    assert compose["services"]["preflight"]["environment"]["HTTPS_UPSTREAM"] == "true"


def test_prometheus_gets_the_metrics_token_from_env(compose):
    svc = compose["services"]["prometheus"]
    assert svc["environment"]["METRICS_TOKEN"].startswith("${METRICS_TOKEN:?")
    prom = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "preflight")
    script = (DEPLOY / "prometheus" / "entrypoint.sh").read_text()
    assert job["authorization"]["credentials_file"] in script


def test_entrypoint_scripts_are_posix_sh():
    for script in (DEPLOY / "prometheus" / "entrypoint.sh", DEPLOY / "alertmanager" / "entrypoint.sh"):
        result = run(["sh", "-n", str(script)])
        assert result.returncode == 0, f"{script}: {result.stdout}"
        assert "bash" not in script.read_text().splitlines()[0], "busybox images have no bash"
