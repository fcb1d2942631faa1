"""Fact paths: re-exported from fleetaudit.facts.schema, the collectors' fact schema
(waivers, history and tests name it by this older path)."""
from ..facts.schema import (  # noqa: F401
    CATALOGUE, COLLECTORS, TREE, PathSyntaxError, ancestors, collector, dig, is_under, join,
    join_all, known, segment, split, suggest,
)
