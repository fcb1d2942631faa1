"""explain against the error texts of the sources that print them (fleetaudit/pullsources.py):
each ranks its category first, and a text several causes print alike keeps them in the top 3."""
import pytest

from fleetaudit.explain import CATEGORY_GUIDE, explain
from fleetaudit.pullerrors import classify
from fleetaudit.pullsources import SOURCE_TEXTS

SOURCE_KEYS = ("GO-DIAL", "GO-DNS", "GO-HTTP", "GO-X509", "MOBY", "DIST", "CTRD", "CIMAGE", "KUBELET")


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
