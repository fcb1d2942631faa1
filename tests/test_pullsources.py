"""explain against the error texts of the sources that print them (fleetaudit/pullsources.py):
each ranks its category first, and a text several causes print alike keeps them in the top 3."""
import textwrap

import pytest

from fleetaudit.explain import CATEGORY_GUIDE, explain
from fleetaudit.pullerrors import classify
from fleetaudit.pullsources import SOURCE_TEXTS

SOURCE_KEYS = ("GO-DIAL", "GO-DNS", "GO-HTTP", "GO-X509", "MOBY", "DIST", "CTRD", "CIMAGE", "KUBELET",
               "CLIENT", "DAEMON", "GO-WIN", "BUILDKIT", "CIMAGE2", "ECS", "REGBODY", "SYSTEMD")


@pytest.mark.parametrize("entry", SOURCE_TEXTS, ids=lambda e: e.text[-60:])
def test_source_text_ranks_its_category_first(entry):
    ranked = [c.category for c in explain(entry.text)]
    assert ranked[0] == entry.category, ranked
    for other in entry.also:
        assert other in ranked[:3], (other, ranked)


def test_every_entry_cites_a_source_and_a_real_category():
    for e in SOURCE_TEXTS:
        assert e.source in SOURCE_KEYS and e.request, e.text
        assert e.category in CATEGORY_GUIDE and all(a in CATEGORY_GUIDE for a in e.also), e.text
        assert e.category not in e.also, e.text


def test_source_texts_are_recognised_not_guessed():
    # each text matches a known error class: the answer comes from the phrase, not loose words
    for e in SOURCE_TEXTS:
        assert classify(e.text) or any(not c.generic for c in explain(e.text)), e.text
        assert not explain(e.text)[0].generic, e.text


def test_capitalised_unauthorized_is_the_proxy_lowercase_the_registry():
    # Go's CONNECT: a proxy's 401 becomes the status text "Unauthorized"; distribution's
    # errcode spells a registry's 401 "unauthorized: ..."
    proxy = 'Error response from daemon: Get "https://quay.io/v2/": Unauthorized'
    registry = 'Error response from daemon: Head "https://quay.io/v2/a/b/manifests/1": unauthorized'
    assert explain(proxy)[0].category == "proxy"
    assert [c.category for c in explain(registry)][0] == "auth"
    bare = [c.category for c in explain("Unauthorized")]
    assert bare[0] == "auth" and "proxy" in bare[:2]


def test_a_stalled_body_is_the_mtu_a_reset_one_keeps_it_in_view():
    stalled = "Download failed, retrying (1/5): net/http: request canceled (Client.Timeout exceeded while reading body)"
    reset = ("Download failed, retrying (1/5): read tcp 10.0.0.5:51234->104.16.1.1:443: read: "
             "connection reset by peer")
    assert explain(stalled)[0].category == "mtu"
    ranked = [c.category for c in explain(reset)]
    assert ranked[0] != "mtu" and "mtu" in ranked[:3]


def test_ambiguous_texts_say_so_and_precise_ones_do_not():
    from fleetaudit.explain import ambiguity
    timeout = explain('Error response from daemon: Get "https://registry-1.docker.io/v2/": net/http: '
                      'request canceled while waiting for connection (Client.Timeout exceeded while '
                      'awaiting headers)')
    note = ambiguity(timeout)
    assert note and "proxy" in note and "reachability" in note
    assert ambiguity(explain("Error response from daemon: manifest for acme/app:1 not found: "
                             "manifest unknown: manifest unknown")) is None
    # a text nothing recognises already says it is guessing
    assert ambiguity(explain("something odd happened")) is None


# The field guide (/work/shared/reference/image-pull-failures-guide.txt, section 2.4 and the
# sections it points to): each common error string and the causes the guide gives for it.
FIELD_GUIDE = [
    ("pull access denied for acme/app, repository does not exist or may require 'docker login'",
     {"auth", "reference"}, 2),
    ("denied: requested access to the resource is denied", {"auth", "reference"}, 2),
    ("manifest unknown", {"reference"}, 1),
    ("manifest not found", {"reference"}, 1),
    ("no matching manifest for linux/amd64 in the manifest list entries", {"arch"}, 1),
    ("net/http: TLS handshake timeout", {"reachability", "proxy"}, 3),
    ("x509: certificate signed by unknown authority", {"tls", "proxy"}, 2),
    ("dial tcp: lookup registry.example.com: no such host", {"dns"}, 1),
    ("unexpected EOF", {"reachability", "proxy", "mtu"}, 3),
    ("read: connection reset by peer", {"reachability", "proxy"}, 3),
    ("toomanyrequests: You have reached your pull rate limit", {"ratelimit"}, 1),
    ("remote error: tls: bad certificate", {"tls", "proxy"}, 2),
    ("write /var/lib/docker/tmp/GetImageBlob1: no space left on device", {"disk"}, 1),
    ("filesystem layer verification failed for digest sha256:0123", {"disk"}, 1),
    ("x509: certificate has expired or is not yet valid", {"time", "tls"}, 2),
    ("unauthorized: authentication required", {"auth"}, 1),
]


@pytest.mark.parametrize("text,causes,within", FIELD_GUIDE, ids=[t[:40] for t, _, _ in FIELD_GUIDE])
def test_field_guide_error_strings_rank_the_guides_causes(text, causes, within):
    ranked = [c.category for c in explain(text)]
    assert causes <= set(ranked[:max(within, len(causes))]) and ranked[0] in causes, ranked


# The wrappers real tools put around the daemon's answer (docker run's trailer, dockerd's own log
# line, docker-py's APIError, kubectl describe's event row, compose v1's service prefix): the
# innermost error must decide, so each daemon-answer source text keeps its first cause in all.
WRAPPINGS = {
    "docker-run": lambda t: "docker: " + t + ".\nSee 'docker run --help'.",
    "dockerd-log": lambda t: ('Dec 04 10:00:00 host dockerd[123]: time="2026-12-04T10:00:00.000000000Z" '
                              'level=error msg="Handler for POST /v1.45/images/create returned error: '
                              + _inner(t).replace('"', '\\"') + '"'),
    "docker-py": lambda t: ('docker.errors.APIError: 500 Server Error for http+docker://localhost/v1.45/'
                            'images/create?tag=1&fromImage=x: Internal Server Error ("' + _inner(t) + '")'),
    "kubectl": lambda t: ('  Warning  Failed     3m (x4 over 5m)   kubelet            Failed to pull image '
                          '"x": rpc error: code = Unknown desc = ' + _inner(t)),
    "compose-v1": lambda t: "ERROR: for web  " + t,
}


def _inner(text):
    return text.replace("Error response from daemon: ", "")


DAEMON_ANSWERS = [e for e in SOURCE_TEXTS if e.text.startswith("Error response from daemon: ")
                  and e.source not in ("CLIENT", "DAEMON")]


@pytest.mark.parametrize("wrapping", sorted(WRAPPINGS))
def test_wrapped_source_texts_keep_their_first_cause(wrapping):
    assert len(DAEMON_ANSWERS) > 50
    ranked = [(e, [c.category for c in explain(WRAPPINGS[wrapping](e.text))]) for e in DAEMON_ANSWERS]
    wrong = [(e.category, r[:3], e.text[-70:]) for e, r in ranked if r[0] != e.category]
    assert not wrong, wrong


def _terminal(text, width):
    return "\n".join(line[i:i + width] for line in text.split("\n") for i in range(0, max(len(line), 1), width))


SOFT_WRAPS = {
    "terminal-80": lambda t: _terminal(t, 80),
    "terminal-120": lambda t: _terminal(t, 120),
    "editor-80": lambda t: "\n".join(textwrap.wrap(t, 80, break_on_hyphens=False)),
}


@pytest.mark.parametrize("wrap", sorted(SOFT_WRAPS))
def test_soft_wrapped_source_texts_keep_their_first_cause(wrap):
    # pasted errors arrive cut at a terminal's column or re-wrapped by an editor or a forum;
    # a text long enough to fill two lines must read the same
    long_texts = [e for e in SOURCE_TEXTS if len(e.text) > 160 and "\n" not in e.text]
    assert len(long_texts) > 40
    ranked = [(e, [c.category for c in explain(SOFT_WRAPS[wrap](e.text))]) for e in long_texts]
    wrong = [(e.category, r[:3], e.text[-70:]) for e, r in ranked if r[0] != e.category]
    assert not wrong, wrong
