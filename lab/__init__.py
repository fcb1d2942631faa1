"""fleetaudit's test fleet ("lab"): real SSH/Docker hosts made of Linux namespaces.

Not part of the product package. See lab/README.md.
"""
from .fleet import Fleet, HostSpec, LabError, LabHost  # noqa: F401
