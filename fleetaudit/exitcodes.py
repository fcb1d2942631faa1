"""Exit codes a CI pipeline can act on (documented in the README)."""
CLEAN = 0            # every host audited, no finding at or above --fail-on
FINDINGS = 1         # at least one finding at or above --fail-on
USAGE = 2            # bad command line, inventory, policy or snapshot: nothing ran
NOT_AUDITED = 3      # some hosts could not be audited (unreachable); takes precedence over 1
INTERNAL = 4         # a bug in fleetaudit itself
HISTORY_LOCKED = 5    # another run of the same inventory holds the history lock (--wait-lock): nothing ran
HISTORY = 6          # the history store could not be opened, read or written (reports were still written)
INTERRUPTED_SIGINT = 130   # Ctrl-C: what was collected is still written, run.interrupted true
INTERRUPTED_SIGTERM = 143  # SIGTERM (a CI cancel, systemd stop): same, 128 + 15
