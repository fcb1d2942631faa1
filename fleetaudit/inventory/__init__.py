"""Inventory layer: load native or Ansible inventories into Host records.

Pure library: it reads files and raises InventoryError; it never prints,
exits or touches the network.
"""
from .errors import InventoryError, LimitError
from .limit import apply_limit
from .loader import load_inventory
from .model import Host, Inventory, JumpHop, parse_jump

__all__ = [
    "Host",
    "Inventory",
    "InventoryError",
    "JumpHop",
    "LimitError",
    "apply_limit",
    "load_inventory",
    "parse_jump",
]
