"""fleetaudit: agentless SSH auditor for Docker hosts."""
__version__ = "0.1.0"
