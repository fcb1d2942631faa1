"""Wrapper stripping (fleetaudit/pullunwrap.py) on texts as kubelet, ECS, docker SDKs,
compose, kitematic, journald and logrus print them (shapes from tests/data/pull-errors)."""
from fleetaudit.explain import explain
from fleetaudit.pullunwrap import soft_wrap_joins, unwrap

CRI = ('Failed to pull image "registry.local/app": rpc error: code = Unknown desc = failed to pull '
       'and unpack image "registry.local/app:latest": failed to resolve reference '
       '"registry.local/app:latest": failed to do request: Head "https://registry.local/v2/app/'
       'manifests/latest": x509: certificate signed by unknown authority')
SDK = ('docker.errors.APIError: 500 Server Error: Internal Server Error ("{"message":"Get '
       'https://quay.io/v2/openai/universe/manifests/0.20.0: net/http: TLS handshake timeout"}")')
KITEMATIC = ('(HTTP code 500) server error - {"message":"Get https://registry-1.docker.io/v2/: '
             'read tcp 10.0.2.15:54122->50.17.62.194:443: read: connection reset by peer"}')
ECS = ("CannotPullContainerError: API error (500): Get https://x.dkr.ecr.us-east-1.amazonaws.com/v2/: "
       "net/http: request canceled while waiting for connection")
JOURNAL = ('May 05 08:00:31 demoetl dockerd[1371075]: time="2021-05-05T08:00:31.005487873Z" '
           'level=info msg="Download failed, retrying (3/5): unexpected EOF"')
LOGRUS_ERROR = 'level=error msg="pulling image failed" error="pull access denied for 123.dkr.ecr.x/app"'
COMPOSE = "ERROR: for web  pull access denied for myapp, repository does not exist"


def test_cri_wrappers_peel_to_the_daemon_error():
    u = unwrap(CRI)
    assert u.wrappers == ["kubelet", "cri", "containerd"]
    assert u.inner.startswith('failed to resolve reference "registry.local/app:latest"')
    assert u.inner.endswith("x509: certificate signed by unknown authority")


def test_sdk_and_kitematic_json_bodies_give_their_message():
    assert unwrap(SDK).inner == ("Get https://quay.io/v2/openai/universe/manifests/0.20.0: "
                                 "net/http: TLS handshake timeout")
    assert "json-body" in unwrap(SDK).wrappers
    assert unwrap(KITEMATIC).inner.startswith("Get https://registry-1.docker.io/v2/: read tcp")


def test_ecs_journal_logrus_and_compose():
    assert unwrap(ECS).wrappers == ["ecs", "daemon-api"]
    assert unwrap(ECS).inner.startswith("Get https://x.dkr.ecr")
    assert unwrap(JOURNAL).inner == "Download failed, retrying (3/5): unexpected EOF"
    assert unwrap(LOGRUS_ERROR).inner == "pull access denied for 123.dkr.ecr.x/app"
    assert unwrap(COMPOSE).inner.startswith("pull access denied for myapp")


def test_daemon_text_is_not_mistaken_for_a_log_level():
    # "Error response from daemon" is docker's own wrapper, not "Error" + a message
    u = unwrap("Error response from daemon: Get https://registry-1.docker.io/v2/: EOF")
    assert u.wrappers == ["docker-cli"] and u.inner == "Get https://registry-1.docker.io/v2/: EOF"
    assert unwrap("error pulling image configuration: unknown blob").inner.endswith("unknown blob")


def test_unwrapped_text_is_left_alone():
    for text in ("", "denied", "x509: certificate signed by unknown authority"):
        assert unwrap(text).wrappers == [] and unwrap(text).inner == text.strip()


def test_sdk_wrapper_words_do_not_rank_a_server_error():
    # the 500 is the local daemon API's, not the registry's: the cause is the inner timeout
    ranked = [c.category for c in explain(SDK)]
    assert ranked[0] == "reachability" and "firewall" in ranked[:3]
    assert [c.category for c in explain(CRI)][0] == "tls"


# ---- soft line wraps (a terminal's column, an editor's or forum's word wrap)
_GO_TEXT = ('Error response from daemon: Get "https://registry-1.docker.io/v2/": proxyconnect tcp: '
            'dial tcp 10.0.0.8:3128: connect: connection refused')


def test_a_terminal_wrap_is_glued_back_mid_word():
    wrapped = "\n".join(_GO_TEXT[i:i + 80] for i in range(0, len(_GO_TEXT), 80))
    assert soft_wrap_joins(wrapped)[0] == _GO_TEXT


def test_an_editor_wrap_is_joined_with_spaces():
    import textwrap
    wrapped = "\n".join(textwrap.wrap(_GO_TEXT, 64))
    assert soft_wrap_joins(wrapped) == [_GO_TEXT]


def test_a_pull_transcript_and_a_one_line_text_are_no_wrap():
    transcript = ("latest: Pulling from library/nginx\n"
                  "a2abf6c4d29d: Pulling fs layer\n"
                  "a9edb18cadd1: Pulling fs layer\n"
                  "error pulling image configuration: download failed after attempts=6: "
                  "net/http: TLS handshake timeout")
    assert soft_wrap_joins(transcript) == []
    assert soft_wrap_joins(_GO_TEXT) == []
    # two sentences, each on its line (docker run's trailer is one, but ends with a full stop)
    assert soft_wrap_joins("docker: Error response from daemon: manifest for acme/app:1 not found: "
                           "manifest unknown: manifest unknown.\nSee 'docker run --help'.") == []


def test_kubelet_aggregates_and_reason_prefixes_are_peeled():
    # k8s.io/apimachinery/pkg/util/errors NewAggregate prints "[err1, err2]"; events carry the
    # reason (ErrImagePull) before the message
    inner = ('failed to pull and unpack image "docker.io/library/nginx:1.25": failed to resolve reference '
             '"docker.io/library/nginx:1.25": failed to do request: Head "https://registry-1.docker.io/v2/'
             'library/nginx/manifests/1.25": dial tcp 3.94.224.37:443: i/o timeout')
    aggregate = f'Failed to pull image "nginx:1.25": [rpc error: code = Unknown desc = {inner}, rpc error: code = Unknown desc = {inner}]'
    u = unwrap(aggregate)
    assert u.wrappers[:3] == ["kubelet", "kubelet", "cri"], u.wrappers
    assert u.inner.startswith('failed to resolve reference "docker.io/library/nginx:1.25"'), u.inner
    assert unwrap("ErrImagePull: " + inner).wrappers[:1] == ["kubelet"]
    ranked = [c.category for c in explain(aggregate)][:3]
    assert ranked == [c.category for c in explain(inner)][:3]
