"""Diagnosis rules: registry credentials (who can pull what) and Docker Hub rate limits.

The daemon pulls, but the credentials come from the docker CLI of the user who asks:
`sudo docker pull`, systemd units and cron jobs use root's ~/.docker/config.json, so a
`docker login` done as another user does not help them. Only registry names are
collected, never the secrets.
"""
from __future__ import annotations

from typing import Dict, Iterator, List

from ..facts.registries import (
    DOCKER_HUB, ROOT, credential_users, root_registries, user_registries,
)
from ..facts.schema import join_all
from ..facts.values import MISSING
from .base import Hit, HostContext, dig, ev, rule
from .text import q

# Root's registries are a derived fact (fleetaudit.facts.registries.root_registries).
__all__ = ["root_registries"]


def _root_path(facts: dict) -> str:
    p = dig(facts, "credentials.users.root.path")
    return p if isinstance(p, str) else "/root/.docker/config.json"


def _login(reg: str) -> str:
    return "sudo docker login" if reg == DOCKER_HUB else f"sudo docker login {q(reg)}"


def _rootless(facts: dict) -> bool:
    return dig(facts, "docker.info.rootless") is True


def _display(reg: str) -> str:
    return "Docker Hub (docker.io)" if reg == DOCKER_HUB else reg


@rule(
    id="auth.user-only-credentials", category="auth", severity="high",
    title="registry credentials only for a non-root user: root pulls anonymously",
    why="""
Credentials live in the home of the user who ran `docker login`. Pulls made as root (sudo
docker, systemd units, cron, compose run by root) read /root/.docker/config.json instead and
go anonymous: "no basic auth credentials", or "pull access denied for REGISTRY/REPO,
repository does not exist or may require 'docker login'", while the same pull works for
the user who logged in.
""",
    remediation=["sudo docker login REGISTRY   # as root, the user that pulls",
                 "or run the deployment as the user that has the login"],
    needs_docker=True,
)
def user_only(ctx: HostContext) -> Iterator[Hit]:
    mine = ctx.view.root_registries
    if mine is MISSING or _rootless(ctx.facts):
        return
    others: Dict[str, List[str]] = {}
    for user, entry in sorted(credential_users(ctx.facts).items()):
        if user == ROOT:
            continue
        for reg in sorted(user_registries(entry)):
            if reg not in mine:
                others.setdefault(reg, []).append(user)
    if not others:
        return
    exp = ctx.expect_elements("credentials.root_registries", root_registries)
    for reg, users in sorted(others.items()):
        # The whole fleet logging in as this user only is a (risky) practice, not drift.
        fleet_same = exp is not None and reg not in exp.value and _fleet_user_only(ctx, reg)
        severity = "medium" if fleet_same else "high"
        user = users[0]
        yield Hit(
            evidence=[
                ev("credentials.root_registries", mine,
                   f"includes {reg}", note=f"root pulls (sudo, systemd); {_root_path(ctx.facts)}"),
                *(ev(join_all(("credentials", "users", u, "credential_registries")), reg,
                     note=f"{u} has a login for it") for u in users),
            ],
            severity=severity,
            title=f"credentials for {_display(reg)} only for {', '.join(users)[:60]}, not for root",
            remediation=[f"{_login(reg)}   # root is who pulls for sudo/systemd",
                         f"or run the deployment as {q(user)} (a member of the docker group), "
                         "without sudo"],
        )


def _fleet_user_only(ctx: HostContext, reg: str) -> bool:
    """Do most audited hosts have a non-root login for reg but no root login?"""
    cache = ctx.fleet.cache
    key = ("user-only", reg)
    if key not in cache:
        n = total = 0
        for v in ctx.fleet.views():
            root = v.root_registries
            if root is MISSING:
                continue
            total += 1
            if reg not in root and any(u != ROOT for u in v.credential_users(reg)):
                n += 1
        cache[key] = total > 0 and n * 2 > total
    return cache[key]


@rule(
    id="auth.missing-credentials", category="auth", severity="high",
    title="registry credentials present on the baseline but not on this host",
    why="""
The fleet logs root in to registries this host has no credentials for. Pulls of private
images from them fail here with "no basic auth credentials", "unauthorized: authentication
required", or "pull access denied for REGISTRY/REPO, repository does not exist or may require
'docker login': denied: requested access to the resource is denied".
""",
    remediation=["sudo docker login REGISTRY   # with the same account/token as the fleet",
                 "sudo docker pull REGISTRY/REPO:TAG   # verify"],
    needs_docker=True,
)
def missing_credentials(ctx: HostContext) -> Iterator[Hit]:
    mine = ctx.view.root_registries
    if mine is MISSING or _rootless(ctx.facts):
        return
    exp = ctx.expect_elements("credentials.root_registries", root_registries)
    if exp is None:
        return
    user_has = set()
    for user, entry in credential_users(ctx.facts).items():
        if user != ROOT:
            user_has |= user_registries(entry)
    missing = [r for r in exp.value if r not in mine and r not in user_has]  # user-only: other rule
    if not missing:
        return
    yield Hit(
        evidence=[ev("credentials.root_registries", mine, exp.value, note=exp.source)],
        title=f"no credentials for {', '.join(_display(r) for r in missing)[:120]} (the fleet has them)",
        remediation=[*(f"{_login(r)}   # same account/token as the fleet" for r in missing),
                     "echo \"$TOKEN\" | sudo docker login REGISTRY -u USER --password-stdin   # non-interactive"],
    )


def _helpers_missing(facts: dict) -> Dict[str, List[str]]:
    """user -> credential helpers that user's config.json names but that are not
    installed (users.*.missing_helpers; the run-wide credentials.missing_helpers only
    when no per-user detail exists, under the key "*")."""
    out: Dict[str, List[str]] = {}
    for u, entry in credential_users(facts).items():
        names = entry.get("missing_helpers")
        if isinstance(names, list):
            names = sorted({n for n in names if isinstance(n, str) and n})
            if names:
                out[u] = names
    if not out and not credential_users(facts):
        top = dig(facts, "credentials.missing_helpers")
        names = sorted({n for n in top if isinstance(n, str) and n}) if isinstance(top, list) else []
        if names:
            out["*"] = names
    return out


@rule(
    id="auth.helper-missing", category="auth", severity="high",
    title="config.json names a credential helper that is not installed",
    why="""
With "credsStore" or "credHelpers" in config.json the CLI asks docker-credential-NAME for
the password. When that program is missing every pull and login of that user fails before
reaching the registry: "error getting credentials - err: exec: \\"docker-credential-NAME\\":
executable file not found in $PATH".
""",
    remediation=["install the helper (docker-credential-NAME) for that user, or remove "
                 "credsStore/credHelpers from config.json and docker login again"],
    needs_docker=True,
)
def helper_missing(ctx: HostContext) -> Iterator[Hit]:
    for user, names in sorted(_helpers_missing(ctx.facts).items()):
        path = (join_all(("credentials", "users", user, "missing_helpers")) if user != "*"
                else "credentials.missing_helpers")
        who = "root" if user in (ROOT, "*") else user
        yield Hit(
            evidence=[ev(path, names, [], note="named in config.json, not on PATH")],
            severity="high" if who == ROOT else "medium",
            title=f"credential helper {', '.join('docker-credential-' + n for n in names)[:100]} missing ({who})",
            remediation=[*(f"command -v docker-credential-{q(n)}" for n in names[:3]),
                         "install it, or delete \"credsStore\"/\"credHelpers\" from "
                         f"{'/root' if who == ROOT else '~' + who}/.docker/config.json and run docker login again"],
        )


def _hub_rate_limited(ctx: HostContext) -> List[str]:
    """Hosts of the run whose daemon log shows the rate limit (memoized per run)."""
    cache = ctx.fleet.cache
    if "ratelimited" not in cache:
        cache["ratelimited"] = sorted(
            h.name for h in ctx.fleet.audited()
            if isinstance(dig(h.facts, "daemon_log.counts.toomanyrequests"), int)
            and dig(h.facts, "daemon_log.counts.toomanyrequests") > 0)
    return cache["ratelimited"]


@rule(
    id="auth.dockerhub-anonymous", category="ratelimit", severity="low",
    title="Docker Hub pulls are anonymous and not mirrored (rate limit exposure)",
    why="""
Anonymous Docker Hub pulls are limited per source IP (100 pulls per 6 hours at the time
of writing; hosts behind one NAT share it). Over the limit pulls fail with
"toomanyrequests: You have reached your pull rate limit. You may increase the limit by
authenticating and upgrading". A login or a pull-through mirror avoids it.
""",
    remediation=["sudo docker login   # a Docker Hub account for root",
                 "or set \"registry-mirrors\" in /etc/docker/daemon.json to a pull-through cache"],
    needs_docker=True,
)
def dockerhub_anonymous(ctx: HostContext) -> Iterator[Hit]:
    root = ctx.view.root_registries
    mirrors = ctx.view.registry_mirrors
    if root is MISSING or mirrors is MISSING or DOCKER_HUB in root or mirrors:
        return
    limited = _hub_rate_limited(ctx)
    evidence = [ev("credentials.root_registries", root,
                   note="no Docker Hub login (https://index.docker.io/v1/) for root"),
                ev("docker.info.registry_mirrors" if dig(ctx.facts, "docker.info") else
                   "daemon_json.config.registry-mirrors", mirrors, note="no pull-through mirror")]
    if limited:
        evidence.append(ev("daemon_log.counts.toomanyrequests", limited[:10],
                           note="hosts of this run already hit the limit"))
    yield Hit(evidence=evidence, severity="medium" if limited else "low")


@rule(
    id="auth.config-invalid", category="auth", severity="high",
    title="a docker config.json is not valid JSON: its logins are ignored",
    why="""
The docker CLI reads ~/.docker/config.json before every pull. When the file is not valid
JSON it prints "WARNING: Error loading config file: /root/.docker/config.json: ..." and
carries on without any of its logins, so private pulls go anonymous and fail with "no basic
auth credentials" or "pull access denied ... may require 'docker login'".
""",
    remediation=["python3 -m json.tool /root/.docker/config.json   # shows where it breaks",
                 "fix the file, or move it away and docker login again"],
    needs_docker=True,
)
def config_invalid(ctx: HostContext) -> Iterator[Hit]:
    for user, entry in sorted(credential_users(ctx.facts).items()):
        if entry.get("valid") is not False:
            continue
        path = entry.get("path") if isinstance(entry.get("path"), str) else f"~{user}/.docker/config.json"
        warnings = [w for w in dig(ctx.facts, "docker.cli_warnings") or []
                    if isinstance(w, str) and "config file" in w.lower()]
        evidence = [ev(join_all(("credentials", "users", user, "valid")), False, True),
                    ev(join_all(("credentials", "users", user, "error")), entry.get("error"))]
        if warnings:
            evidence.append(ev("docker.cli_warnings", warnings))
        yield Hit(
            evidence=evidence,
            severity="high" if user == ROOT else "medium",
            title=f"{path} is not valid JSON: {user}'s registry logins are ignored"
                  + (" (root pulls for sudo/systemd)" if user == ROOT else ""),
            remediation=[f"{'sudo ' if user == ROOT else ''}python3 -m json.tool {q(path)}",
                         f"fix it, or move it away and {'sudo ' if user == ROOT else ''}docker login again"],
        )
