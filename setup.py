"""Maps the top-level grammar/ and stdlib/ folders into the installed package (everything else is in
pyproject.toml)."""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["fmscript", "fmscript.*"]) + ["fmscript.grammar", "fmscript.stdlib"],
    package_dir={"fmscript.grammar": "grammar", "fmscript.stdlib": "stdlib"},
    include_package_data=False,
)
