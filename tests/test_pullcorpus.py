"""The public pull-error corpus, its split, the scorer, and explain measured on it.

The corpus (tests/data/pull-errors/) holds error texts quoted from public threads with the
cause each thread concluded. bench/explain_score.py prints the figures; this file keeps
them honest: the split is fixed, the scorer counts right, explain never answers nothing,
and the held-out part does not fall below what was measured when explain was tuned.
"""
import re
from pathlib import Path

import pytest

from fleetaudit.explain import GENERIC_CEILING, explain, generic_causes
from fleetaudit.models import CATEGORIES
from fleetaudit.pullcorpus import (HELD_OUT_PERCENT, SPLIT_SEED, Entry, load, score, split,
                                   split_of)

CORPUS_DIR = Path(__file__).parent / "data" / "pull-errors"
CORPUS = load(CORPUS_DIR)
PARTS = split(CORPUS)


def rank(text):
    return [c.category for c in explain(text)]


# --------------------------------------------------------------------------- corpus
def test_corpus_entries_are_complete_and_distinct():
    assert len(CORPUS) >= 200
    texts = [e.text for e in CORPUS]
    assert len(texts) == len(set(texts)), "an error text is quoted twice"
    for e in CORPUS:
        assert e.cause in CATEGORIES
        assert re.match(r"https://\S+$", e.source), e.source
        assert e.text.strip() and e.fix.strip() and e.runtime.strip()


def test_corpus_covers_every_category():
    assert {e.cause for e in CORPUS} == set(CATEGORIES)


def test_load_rejects_an_entry_without_a_known_cause(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"text": "x", "source": "https://e", "cause": "luck", '
                                        '"fix": "f", "runtime": "docker"}\n')
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        load(tmp_path)


# --------------------------------------------------------------------------- split
def test_split_is_a_fixed_function_of_the_text():
    assert SPLIT_SEED == "fleetaudit-pull-errors-2026-12-04" and HELD_OUT_PERCENT >= 30
    for e in CORPUS[:20]:
        assert split_of(e.text) == split_of(e.text)
    # The side an entry lands on does not depend on the rest of the corpus.
    alone = split(CORPUS[:5])
    for e in CORPUS[:5]:
        assert e in alone[split_of(e.text)]


def test_held_out_part_is_at_least_thirty_percent():
    n = len(CORPUS)
    assert len(PARTS["held-out"]) + len(PARTS["dev"]) == n
    assert len(PARTS["held-out"]) >= 0.30 * n


# --------------------------------------------------------------------------- scorer
def _entry(text, cause):
    return Entry(text=text, source="https://example.invalid", cause=cause, fix="f", runtime="r")


def test_scorer_counts_first_answers_top_three_and_empty_answers():
    entries = [_entry("a", "dns"), _entry("b", "tls"), _entry("c", "auth"), _entry("d", "mtu")]
    answers = {"a": ["dns", "proxy"], "b": ["proxy", "firewall", "tls"],
               "c": ["dns", "proxy", "tls", "auth"], "d": []}
    s = score(entries, lambda t: answers[t])
    assert (s.n, s.top1, s.top3, s.empty) == (4, 1, 2, 1)
    assert [e.text for e, _ in s.misses] == ["c", "d"]
    assert [e.text for e, _ in s.second] == ["b"]
    assert s.rate(s.top1) == 0.25 and score([], lambda t: []).rate(0) == 0.0


# --------------------------------------------------------------------------- never empty
@pytest.mark.parametrize("part", ["dev", "held-out"])
def test_explain_answers_every_corpus_entry(part):
    for e in PARTS[part]:
        causes = explain(e.text)
        assert causes, e.text[:80]
        assert all(c.category in CATEGORIES and c.check for c in causes)


@pytest.mark.parametrize("text", ["", "   \n", "everything is fine", "\x00\xff" * 50,
                                  "<html><body>oops</body></html>", "Error: 42" * 3000])
def test_explain_never_answers_nothing(text):
    causes = explain(text)
    assert causes
    confs = [c.confidence for c in causes]
    assert confs == sorted(confs, reverse=True)


def test_unrecognised_text_gets_low_confidence_guesses_from_its_words():
    causes = explain("registry says: permission problem for this token")
    assert all(c.generic for c in causes) and causes[0].category == "auth"
    assert all(c.confidence <= GENERIC_CEILING for c in causes)
    assert "permission" in causes[0].why and "token" in causes[0].words
    assert causes[0].to_json()["generic"] is True
    bare = generic_causes("")
    assert bare and all(c.generic and not c.words for c in bare)


# --------------------------------------------------------------------------- behaviours
def test_html_block_page_of_a_proxy_is_a_proxy_and_its_title_is_quoted():
    text = ('ERROR: error parsing HTTP 403 response body: invalid character \'<\' looking for '
            'beginning of value: "<!DOCTYPE html>\\r\\n<html>\\r\\n  <head>\\r\\n    <title>Response '
            'denied by WatchGuard HTTP Proxy</title> \\r\\n  </head>"')
    causes = explain(text)
    assert causes[0].category == "proxy" and not causes[0].generic
    assert "Response denied by WatchGuard HTTP Proxy" in causes[0].why
    assert "auth" not in [c.category for c in causes[:1]]


def test_html_404_page_points_at_the_reference():
    text = ('Error parsing HTTP response: invalid character \'<\' looking for beginning of value: '
            '"<html><head>\\n<title>404 Not Found</title>\\n</head><body><h1>Not Found</h1></body></html>"')
    assert "reference" in rank(text)[:2]


def test_expired_certificate_of_a_public_registry_blames_the_local_clock_first():
    hub = ('Error response from daemon: Get "https://registry-1.docker.io/v2/": x509: '
           'certificate has expired or is not yet valid')
    assert rank(hub)[:2] == ["time", "tls"]
    assert "registry-1.docker.io" in explain(hub)[0].why
    private = ('Get "https://registry.lab:5000/v2/": x509: certificate has expired or is not yet '
               'valid: current time 2026-11-29T13:49:06Z is after 2026-01-01T00:00:00Z')
    assert rank(private)[0] == "tls" and "time" in rank(private)


def test_pull_access_denied_without_namespace_is_a_missing_image():
    bare = ("docker: Error response from daemon: pull access denied for myapp, repository does "
            "not exist or may require 'docker login': denied: requested access to the resource "
            "is denied.")
    assert rank(bare)[:2] == ["reference", "auth"]
    # Docker Hub's default refusal is the same for a missing and a private repository: with no
    # word about credentials the missing one leads, the credentials stay second
    namespaced = bare.replace("for myapp,", "for acme/myapp,")
    assert rank(namespaced)[:2] == ["reference", "auth"]
    # another registry's refusal keeps credentials first
    private = bare.replace("for myapp,", "for registry.example.com/acme/myapp,")
    assert rank(private)[0] == "auth" and "reference" in rank(private)[:2]
    expired = bare.replace("denied: requested access to the resource is denied.",
                           "denied: Your authorization token has expired.")
    assert rank(expired)[0] == "auth"


def test_wrapped_errors_rank_what_they_wrap():
    kubelet = ('Failed to pull image "quay.io/a/b:1": rpc error: code = Unknown desc = failed to '
               'pull and unpack image "quay.io/a/b:1": failed to resolve reference "quay.io/a/b:1": '
               'failed to do request: Head "https://quay.io/v2/a/b/manifests/1": dial tcp '
               '3.216.152.103:443: i/o timeout')
    # (a public address: quay.io dialed at a private one would say the name resolved wrongly,
    # see tests/test_explain_network.py)
    # containerd's first request (the manifest HEAD) to a public registry got no answer at
    # all: a proxy the network requires, else a DROP rule, before an outage
    assert rank(kubelet)[:3] == ["proxy", "firewall", "reachability"]
    ecs = "CannotPullContainerError: pull image manifest has been retried 5 time(s): " \
          "failed to resolve ref quay.io/a/b:1: failed to do request: x509: certificate " \
          "signed by unknown authority"
    assert rank(ecs)[0] == "tls"
    ctr = 'ctr: rpc error: code = NotFound desc = image "gcr.io/a/b:v1": not found'
    assert rank(ctr)[0] == "reference"


def test_ssh_transport_and_systemd_unit_failures():
    ssh = ("error during connect: Get \"http://docker.example.com/v1.41/info\": command [ssh -l "
           "root -- host docker system dial-stdio] has exited with exit status 255, please make "
           "sure the URL is valid, and Docker 18.09 or later is installed on the remote host: "
           "stderr=Host key verification failed.")
    assert rank(ssh)[0] == "ssh"
    unit = ("systemd[1]: docker.service: Main process exited, code=exited, status=1/FAILURE\n"
            "systemd[1]: docker.service: Failed with result 'exit-code'.\n"
            "systemd[1]: Failed to start Docker Application Container Engine.")
    assert rank(unit)[0] == "daemon"


def test_tls_handshake_timeout_is_a_network_symptom():
    text = ('Error response from daemon: Get "https://registry.example.com/v2/": net/http: TLS '
            'handshake timeout')
    assert rank(text)[0] == "reachability"
    # on the first request (the /v2/ ping) nothing got through: proxy or firewall next;
    # during a blob download, after the ping worked, the path MTU is next
    assert rank(text)[1:3] == ["proxy", "firewall"]
    blob = ('error pulling image configuration: Get https://d1.cloudfront.net/registry-v2/docker/'
            'registry/v2/blobs/sha256/ac/ac52/data: net/http: TLS handshake timeout')
    # (on the blob CDN, after the registry answered, a stalled handshake is the MTU first)
    assert rank(blob)[:2] == ["mtu", "reachability"]
    # a public registry that answers everyone else: the local network's proxy comes first,
    # except for cloud tasks (ECS), which have no proxy but often no route out
    hub = text.replace("registry.example.com", "registry-1.docker.io")
    assert rank(hub)[:3] == ["proxy", "reachability", "firewall"]
    assert rank("CannotPullContainerError: API error (500): " + hub)[0] == "reachability"


# Accuracy is a figure (bench/explain_score.py, docs/explain.md), not a threshold here
# (issue 10): the suite checks that nothing is left empty and that the scorer is right.
def test_held_out_gets_no_empty_answer():
    assert score(PARTS["held-out"], rank).empty == 0


def test_bench_prints_both_parts(capsys):
    from bench import explain_score
    assert explain_score.main([]) == 0
    out = capsys.readouterr().out
    assert "dev" in out and "held-out" in out and "top-3" in out
    assert "held-out misses" not in out  # held-out failures only on explicit request


def test_bench_by_file_counts_add_up_to_the_parts(capsys):
    """--by-file: every corpus file a row, and the rows' n add up to each part's n."""
    import re as _re
    from bench import explain_score
    assert explain_score.main(["--by-file"]) == 0
    out = capsys.readouterr().out.split("per corpus file")[1]
    rows = _re.findall(r"(\S+\.jsonl)\s+\d+/\d+ of (\d+) \| \d+/\d+ of (\d+)", out)
    files = sorted(p.name for p in explain_score.CORPUS.glob("*.jsonl"))
    assert sorted(r[0] for r in rows) == files
    assert sum(int(r[1]) for r in rows) == len(PARTS["dev"])
    assert sum(int(r[2]) for r in rows) == len(PARTS["held-out"])


def test_snapshot_findings_raise_a_cause_and_name_the_facts_that_did():
    from fleetaudit import snapshot
    snap = snapshot.load(Path(__file__).parent / "data" / "snapshots" / "demo-subset.json")
    text = "x509: certificate signed by unknown authority"
    plain = next(c for c in explain(text) if c.category == "tls")
    tls = next(c for c in explain(text, snap) if c.category == "tls")
    assert tls.hosts == ["no-ca"] and tls.confidence > plain.confidence
    assert any(f.startswith("no-ca: logs.tls (daemon_log.counts.x509-unknown-authority")
               for f in tls.facts), tls.facts
    assert not plain.facts and tls.to_json()["facts"] == tls.facts
