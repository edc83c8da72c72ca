"""Operational docs: present, linked, and only pointing at files and commands that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import DOCS, REPO, RUNBOOKS

DOC_FILES = sorted(DOCS.rglob("*.md"))
PROCEDURES = ["monitoring", "restore-from-backup", "rotate-keys", "lost-admin-password", "database-failover"]


def test_required_documents_exist():
    for path in ["deployment.md", "logging.md", "incident-contacts.md", "runbooks/README.md"]:
        assert (DOCS / path).is_file(), path
    for name in PROCEDURES:
        assert (RUNBOOKS / f"{name}.md").is_file(), name


def test_every_alert_has_a_runbook_listed_in_the_index(alert_rules):
    index = (RUNBOOKS / "README.md").read_text()
    for rule in alert_rules:
        assert (RUNBOOKS / f"{rule['alert']}.md").is_file()
        assert f"({rule['alert']}.md)" in index, f"{rule['alert']} missing from runbooks/README.md"


def test_incident_contacts_is_a_table_to_fill_in():
    text = (DOCS / "incident-contacts.md").read_text()
    assert re.search(r"^\| Role \| Name \| Phone \| E-mail \|", text, re.M)
    assert "On-call, primary" in text


@pytest.mark.parametrize("doc", DOC_FILES, ids=lambda p: str(p.relative_to(DOCS)))
def test_relative_links_resolve(doc: Path):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        assert (doc.parent / target).exists(), f"{doc.name}: broken link {target}"


REPO_PATH_RE = re.compile(r"(?<![\w/.-])((?:deploy|docs|ops|crates)/[\w./-]*[\w])")
# Created by the operator from deploy/.env.example, never committed.
NOT_IN_REPOSITORY = {"deploy/.env"}


@pytest.mark.parametrize("doc", DOC_FILES, ids=lambda p: str(p.relative_to(DOCS)))
def test_mentioned_repository_files_exist(doc: Path):
    for path in set(REPO_PATH_RE.findall(doc.read_text())) - NOT_IN_REPOSITORY:
        assert (REPO / path).exists(), f"{doc.name}: mentions {path}, which does not exist"


# `preflight` as the program being run: at the start of a command, or after `exec <container>`,
# `run ... <service>` or `--` (kubectl exec); not as a service, namespace or host name.
PREFLIGHT_CALL_RE = re.compile(
    r"(?:^\s*|(?:&&|;|\|\||\$\(|--)\s*|\bexec\s+(?:-\w+\s+)*[\w/-]+\s+|\brun\s+(?:--[\w-]+\s+)*[\w-]+\s+)"
    r"preflight\s+([a-z][a-z-]*)",
    re.M,
)


@pytest.mark.parametrize("doc", DOC_FILES, ids=lambda p: str(p.relative_to(DOCS)))
def test_only_contract_preflight_commands(doc: Path, preflight_commands: set[str]):
    """`preflight <command>` in docs must be a command the binary has (its own `--help`)."""
    text = doc.read_text()
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S) + re.findall(r"`([^`\n]+)`", text):
        for m in PREFLIGHT_CALL_RE.finditer(block):
            assert m.group(1) in preflight_commands, f"{doc.name}: unknown command `preflight {m.group(1)}`"


def test_compose_services_named_in_docs_exist(compose):
    services = set(compose["services"])
    for doc in DOC_FILES:
        for name in re.findall(r"docker compose (?:exec|logs(?: --[\w=-]+)*|ps|stop|start|restart|run --rm(?: --no-deps)?) ([a-z]+)",
                               doc.read_text()):
            assert name in services, f"{doc.name}: no compose service {name!r}"


def test_deployment_guide_covers_the_journey():
    text = (DOCS / "deployment.md").read_text()
    for needle in [
        "Install Docker", "openssl rand -hex 32", "cp .env.example .env", "docker compose up -d",
        "First login", "HTTPS", "DNS", "Upgrades", "preflight migrate", "Kubernetes", "Backups",
        "preflight backup verify",
    ]:
        assert needle in text, needle
