#!/bin/sh
# A dynamic inventory script: prints genuine `ansible-inventory --list` output (../listsrc-limited.json).
case "$1" in
  --list) exec cat "$(dirname "$0")/../listsrc-limited.json" ;;
  *) echo "usage: $0 --list" >&2; exit 2 ;;
esac
