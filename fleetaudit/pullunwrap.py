"""Peel the wrappers off a pull error: from what a tool printed to the daemon's own text.

Build tools, orchestrators and SDKs wrap the daemon's error in their own words:
kubelet/CRI ("Failed to pull image X: rpc error: code = Unknown desc = ..."), ECS
("CannotPullContainerError: API error (500): ..."), docker SDKs ("500 Server Error:
Internal Server Error (\"{\"message\":\"...\"}\")"), compose ("ERROR: for web  ..."),
kitematic ("(HTTP code 500) server error - {...}"), systemd/journald line prefixes and
logrus `msg="..."`. The wrapper words ("500", "Server Error", "pull", "image") say
nothing about the cause and can even look like one (a 500 from the local daemon API is
not the registry's 500). `unwrap` strips them generically, one known prefix at a time,
and returns the innermost text with the names of the wrappers it removed.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import List, Tuple

# (wrapper name, prefix regex). Anchored at the start of what is left; each strip must
# leave text behind. Order does not matter: the loop retries all until none matches.
_PREFIXES: Tuple[Tuple[str, re.Pattern], ...] = tuple((name, re.compile(rx, re.IGNORECASE | re.DOTALL)) for name, rx in (
    ("journal", r"^(?:[A-Z][a-z]{2}|\S{1,6}月)\s+\d{1,2} \d\d:\d\d:\d\d \S+ [\w.@-]+(?:\[\d+\])?:\s*"),
    ("timestamp", r"^\d{4}[-/]\d\d[-/]\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\s+"),
    ("kubelet-event", r"^(?:Warning|Normal)\s+(?:Failed|BackOff)\s+\S+(?:\s+\(x\d+ over \S+\))?\s+kubelet(?:,\s*\S+)?\s+"),
    ("log-level", r"^(?:FATA|ERRO|WARN|INFO)\[\d+\]\s*|^(?-i:FATAL|ERROR|WARNING)\b:?\s+|^(?:Error|error|Warning):\s+"),
    # gitlab-runner: "Job failed:" / "Preparation failed:" and, from
    # executors/docker/internal/pull/manager.go, "failed to pull image %q with specified policies %v: %w"
    # (before the kubelet's "Failed to pull image", which would take its first words)
    ("gitlab-runner", r"^(?:Job failed|Preparation failed):\s*"),
    ("gitlab-runner", r"^failed to pull image \\?\"?[^\"\\\s]+\\?\"? with specified policies \[[^\]]*\]:\s*"),
    ("kubelet", r"^Failed to pull image \\?\"?[^\"\\\s]+\\?\"?:?\s*"),
    ("cri", r"^rpc error: code = \w+ desc = "),
    # k8s.io/apimachinery utilerrors.NewAggregate: the kubelet's "[err1, err2]" of several attempts
    ("kubelet", r"^\[(?=rpc error: |failed to )"),
    ("kubelet", r"^(?:ErrImagePull|ImagePullBackOff|ErrImageNeverPull):\s*"),
    ("containerd", r"^failed to pull and unpack image \\?\"?[^\"\\\s]+\\?\"?:\s*"),
    ("ecs", r"^CannotPullContainerError:\s*"),
    ("ecs", r"^ResourceInitializationError:\s*"),
    ("daemon-api", r"^API error \(\d{3}\):\s*"),
    ("daemon-api", r"^\(HTTP code \d{3}\) (?:server|unexpected) error\s*-\s*"),
    ("sdk", r"^[\w.]*(?:APIError|DockerException|StreamOutputError|ImageNotFound):\s*(?:\d{3} (?:Client|Server) Error(?: for \S+)?:?\s*[A-Za-z ]*?\s*)?"),
    ("sdk", r"^\d{3} (?:Client|Server) Error(?: for \S+)?:\s*[A-Za-z ]*?\s*(?=\()"),
    ("compose", r"^for \S+\s+"),
    ("docker-cli", r"^(?:\S*docker(?:\.exe)?:\s*)?Error response from daemon:\s*"),
    ("podman", r"^(?:error )?pulling image \S+:\s*|^unable to pull \S+:\s*|^unable to pull image:\s*"),
    # containers/image (podman, skopeo, buildah): the source being opened names no cause
    ("podman", r"^(?:error )?initializing source \S+:\s*"),
    # dockerd's own log lines around a failed pull (moby daemon/internal/distribution/pull.go,
    # Docker < 23 printed the error after a colon; the API server's "Handler for ... returned error")
    ("daemon-log", r"^(?:Not continuing with pull after error|Attempting next endpoint for pull after error):\s*"),
    ("daemon-log", r"^Handler for \w+ \S+ returned error:\s*"),
))
# gitlab-runner appends where it failed: " (manager.go:250:15s)", " (docker.go:661:0s)"
_RUNNER_SUFFIX = re.compile(r"(?<!\s)\s*\([\w-]+\.go:\d+:[\d.]+[a-zµ]*\)\s*$")
_PARENS = re.compile(r"^\(\s*(.*?)\s*\)\W{0,3}$", re.DOTALL)
_LOGRUS_MSG = re.compile(r'\blevel=\w+\s+msg="((?:[^"\\]|\\.)*)"', re.DOTALL)
# A message whose inner quotes lost their backslashes on the way (copied from a viewer that
# unescapes, or retyped): its value runs to the last quote before the next key= or the end.
_LOGRUS_MSG_LOOSE = re.compile(r'\blevel=\w+\s+msg="(.*?)"(?=\s+[\w.]+=|\s*$)', re.DOTALL)
_LOGRUS_ERROR = re.compile(r'\berror="((?:[^"\\]|\\.)*)"', re.DOTALL)


@dataclass
class Unwrapped:
    text: str                                          # the whole text as given
    inner: str                                         # the innermost error
    wrappers: List[str] = field(default_factory=list)  # names of the wrappers removed, outer first


def _json_message(text: str) -> str:
    """The "message" of a JSON error body the text is (or is quoted in), else ''."""
    start = text.find('{"message"')
    if start < 0:
        start = text.find('{\\"message')
        if start < 0:
            return ""
    body = text[start:]
    for candidate in (body, body.replace('\\"', '"')):
        end = candidate.rfind("}")
        if end < 0:
            continue
        try:
            value = json.loads(candidate[:end + 1])
        except ValueError:
            # Python SDKs print the body without escaping its inner quotes: take the raw
            # span between "message":" and the last "}.
            m = re.match(r'\{"message"\s*:\s*"(.*)"\s*\}', candidate[:end + 1], re.DOTALL)
            if m:
                return m.group(1)
            continue
        if isinstance(value, dict) and isinstance(value.get("message"), str):
            return value["message"]
    return ""


def unwrap(text: str, max_steps: int = 12) -> Unwrapped:
    """Strip known wrappers, outermost first, until none applies (see module doc)."""
    text = text or ""
    inner = _RUNNER_SUFFIX.sub("", text.strip())
    wrappers: List[str] = []
    for _ in range(max_steps):
        before = inner
        m = _LOGRUS_MSG.search(inner)
        if m and not re.match(r'\s|$', inner[m.end():]):
            m = _LOGRUS_MSG_LOOSE.search(inner) or m      # its closing quote was an inner one
        if m and m.group(1).strip():
            # logrus puts the cause in error="..." when the message is only a summary
            err = _LOGRUS_ERROR.search(inner, m.end())
            inner = m.group(1) + (": " + err.group(1) if err else "")
            inner = inner.replace('\\"', '"').strip()
            wrappers.append("logrus")
        message = _json_message(inner)
        if message.strip():
            inner, _ = message.strip(), wrappers.append("json-body")
        m = _PARENS.match(inner)
        if m and m.group(1):
            inner = m.group(1)
        for name, rx in _PREFIXES:
            m = rx.match(inner)
            if m and inner[m.end():].strip():
                inner = inner[m.end():].strip()
                wrappers.append(name)
                break
        inner = inner.strip().strip('"').strip()
        if inner == before:
            break
    return Unwrapped(text, inner or text.strip(), wrappers)


_SOFT_WRAP_MIN_WIDTH = 60
_TERMINAL_WIDTHS = (80, 100, 120, 132, 160, 200)


def soft_wrap_joins(text: str) -> List[str]:
    """The ways to put back together the line breaks a terminal or an editor inserted to fit a
    width (so that phrases cut in two match again), likelier first; [] for a text whose lines
    are a log or a transcript (or that has one line).

    A terminal wraps at a fixed column, mid-word: every line but the last is exactly that long,
    joined without a space. An editor wraps at spaces: every line but the last is near the
    width, joined with one. With a single wrapped line both fit; the caller decides which
    reads as an error. Output with short lines (docker pull's progress, a log) is no wrap."""
    lines = (text or "").replace("\r\n", "\n").split("\n")
    while len(lines) > 1 and not lines[-1].strip():
        lines.pop()
    body = lines[:-1]
    if not body:
        return []
    width = max(len(line) for line in body)
    if width < _SOFT_WRAP_MIN_WIDTH:
        return []
    spaced = " ".join(line.strip() for line in lines)
    glued = "".join(lines)
    if all(len(line) == width for line in body) and (len(body) > 1 or width in _TERMINAL_WIDTHS):
        return [glued, spaced]
    if len(body) == 1 and body[0].rstrip().endswith("."):
        return []       # a sentence, then another line (docker run's "See 'docker run --help'.")
    if all(len(line) == width for line in body):
        return [spaced, glued]
    # An editor breaks a line only where the next word would not have fitted: each line plus a
    # space plus the next line's first word is longer than the width (a short line before a
    # long URL still is a wrap; docker pull's progress lines are not). A sentence's end is not.
    def next_word(i: int) -> int:
        words = lines[i + 1].split()
        return len(words[0]) if words else 0

    if all(len(line.rstrip()) + 1 + next_word(i) > width and not line.rstrip().endswith(".")
           for i, line in enumerate(body)):
        return [spaced]
    return []
