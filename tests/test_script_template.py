"""build_script keeps one template per collectors and options (every host of a run gets
the same script but for its nonce): the script it returns must be byte for byte the one
assembled from scratch, for any nonce and any options."""
import dataclasses

import pytest
from hypothesis import given, settings, strategies as st

from fleetaudit.collectors import REGISTRY
from fleetaudit.collectors.base import Collector
from fleetaudit.script import ScriptOptions, assemble_script, build_script, new_nonce

NONCES = st.text("0123456789abcdefABCDEFxyz", min_size=1, max_size=24)
OPTIONS = st.builds(ScriptOptions, become=st.booleans(), part_timeout_s=st.integers(1, 60),
                    part_cap_bytes=st.integers(1024, 1 << 20), log_window_hours=st.integers(1, 72),
                    command_timeout_s=st.one_of(st.none(), st.floats(1, 600)))


@settings(max_examples=60, deadline=None)
@given(nonce=NONCES, opts=OPTIONS)
def test_same_bytes_as_assembled_from_scratch(nonce, opts):
    assert build_script(REGISTRY, nonce, opts) == assemble_script(REGISTRY, nonce, opts)


def test_hosts_of_one_run_differ_by_their_nonce_only():
    opts = ScriptOptions(command_timeout_s=60.0)
    a, b = new_nonce(), new_nonce()
    sa, sb = build_script(REGISTRY, a, opts), build_script(REGISTRY, b, opts)
    assert sa != sb and sa.replace(a, b) == sb
    assert f"FA_N={a}" in sa


def test_other_options_or_collectors_get_their_own_script():
    nonce = new_nonce()
    base = build_script(REGISTRY, nonce, ScriptOptions())
    become = build_script(REGISTRY, nonce, ScriptOptions(become=True))
    assert "FA_BECOME=1" in become and "FA_BECOME=0" in base
    extra = Collector(name="probe_x", script="fa_part x; echo x; fa_rc $?", parse=lambda s: {})
    with_extra = build_script([*REGISTRY, extra], nonce, ScriptOptions())
    assert "fa_section probe_x" in with_extra and "probe_x" not in base
    assert build_script(REGISTRY, nonce, ScriptOptions()) == base  # the cached one again


def test_an_unhashable_option_still_gets_its_script():
    @dataclasses.dataclass
    class Wider(ScriptOptions):  # a caller's subclass with a list field
        notes: list = dataclasses.field(default_factory=list)
    nonce = new_nonce()
    assert build_script(REGISTRY, nonce, Wider()) == assemble_script(REGISTRY, nonce, Wider())


def test_a_nonce_that_is_not_alphanumeric_is_refused():
    with pytest.raises(ValueError):
        build_script(REGISTRY, "x; rm -rf /", ScriptOptions())


def test_a_budget_running_down_shares_one_template_per_whole_second():
    """collect gives each host min(command timeout, the run's remaining budget): floats
    that differ below the script's whole-second deadline must reuse one template."""
    from fleetaudit import script
    script._TEMPLATES.clear()
    for remaining in (59.99, 59.7, 59.41, 59.2):
        opts = ScriptOptions(command_timeout_s=remaining)
        nonce = new_nonce()
        assert build_script(REGISTRY, nonce, opts) == assemble_script(REGISTRY, nonce, opts)
    assert len(script._TEMPLATES) == 1
