"""Build configuration that pyproject.toml cannot say: the report templates live at the
top level (templates/), and the wheel carries them INSIDE the package as
fleetaudit.templates, where fleetaudit.render.html finds them with importlib.resources
(site-packages, --target and zip installs alike; no data-files path to guess). In a
checkout the renderer reads templates/ directly. Metadata is in pyproject.toml.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["fleetaudit", "fleetaudit.*"]) + ["fleetaudit.templates"],
    package_dir={"fleetaudit.templates": "templates"},
    package_data={"fleetaudit.templates": ["*.j2", "*.css", "*.js"]},
)
