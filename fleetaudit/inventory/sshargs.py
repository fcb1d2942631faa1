"""Find the jump host hidden in Ansible's ssh argument variables.

Ansible inventories route through bastions with `ansible_ssh_common_args`
('-o ProxyJump=ops@bastion', '-J bastion', or a `ProxyCommand="ssh -W %h:%p
bastion"`). We read those back into a ProxyJump spec. Raise ValueError with a
readable reason when the arguments cannot be understood.
"""
from __future__ import annotations

import os
import shlex
from typing import List, Optional, Tuple

# ssh(1) options that take an argument; needed to find the destination in a ProxyCommand.
_SSH_OPTS_WITH_ARG = set("BbcDEeFIiJLlmOopQRSWw")


def jump_from_ssh_args(text: str) -> Tuple[bool, Optional[str]]:
    """-> (found, jump spec or None for an explicit `ProxyJump none`).

    The first ProxyJump/-J/ProxyCommand wins, as in ssh itself.
    """
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"cannot split ssh arguments {text!r}: {exc}") from None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in ("-J", "-o"):
            if i + 1 >= len(tokens):
                raise ValueError(f"ssh option {tok} is missing its value in {text!r}")
            arg, i = tokens[i + 1], i + 2
        elif tok.startswith(("-J", "-o")) and len(tok) > 2:
            arg, i = tok[2:], i + 1
        else:
            i += 1
            continue
        if tok.startswith("-J"):
            return True, _none_to_none(arg)
        key, value = _split_option(arg)
        if key == "proxyjump":
            return True, _none_to_none(value)
        if key == "proxycommand":
            return True, _jump_from_proxycommand(value)
    return False, None


def _split_option(option: str) -> Tuple[str, str]:
    # ssh -o accepts "Key=Value" and "Key Value".
    option = option.strip()
    for sep_index, char in enumerate(option):
        if char == "=" or char.isspace():
            return option[:sep_index].lower(), option[sep_index + 1:].strip().lstrip("=").strip()
    return option.lower(), ""


def _none_to_none(value: str) -> Optional[str]:
    value = value.strip()
    if not value:
        raise ValueError("ProxyJump needs a value")
    return None if value.lower() == "none" else value


def _jump_from_proxycommand(command: str) -> Optional[str]:
    """'ssh -W %h:%p -p 2222 ops@bastion' -> 'ops@bastion:2222'."""
    if command.strip().lower() == "none":
        return None
    unusable = ValueError(
        f"ProxyCommand {command!r} is not an 'ssh -W %h:%p ...' hop, so it cannot be "
        "expressed as a jump host; set fleetaudit_jump for this host")
    try:
        argv = shlex.split(command)
    except ValueError:
        raise unusable from None
    if not argv or os.path.basename(argv[0]) != "ssh":
        raise unusable
    user = port = dest = None
    forwards_stdio = False
    chain: List[str] = []
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-") and len(arg) > 1:
            flag = arg[1]
            if flag in _SSH_OPTS_WITH_ARG:
                value = arg[2:] if len(arg) > 2 else (argv[i + 1] if i + 1 < len(argv) else None)
                if value is None:
                    raise unusable
                i += 1 if len(arg) > 2 else 2
                if flag == "W":
                    forwards_stdio = value.strip() == "%h:%p"
                elif flag == "p":
                    port = value
                elif flag == "l":
                    user = value
                elif flag == "J":
                    chain.append(value)
                continue
            i += 1
            continue
        if dest is None:
            dest = arg
            i += 1
            continue
        # The pre -W idiom `ssh bastion nc %h %p` forwards stdio the same way.
        if argv[i:] in (["nc", "%h", "%p"], ["netcat", "%h", "%p"], ["ncat", "%h", "%p"]):
            forwards_stdio = True
            break
        raise unusable
    if not forwards_stdio or dest is None:
        raise unusable
    if "@" in dest:
        dest_user, dest = dest.rsplit("@", 1)
        user = user or dest_user
    host = f"[{dest}]" if ":" in dest else dest
    hop = (f"{user}@" if user else "") + host + (f":{port}" if port else "")
    return ",".join(chain + [hop])
