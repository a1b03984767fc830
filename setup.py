"""Build step only: the wheel carries conf/, tasks/ and results/published/ as package data (harness/_data/),
so that an installed package lists and runs what a checkout does (harness/paths.py reads them from there).
Everything else is in pyproject.toml."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA = ("conf", "tasks", "results/published")


class BuildWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install reads the checkout itself
            return
        root = Path(__file__).resolve().parent
        for folder in DATA:
            for source in sorted((root / folder).rglob("*")):
                if source.is_file() and "__pycache__" not in source.parts:
                    target = Path(self.build_lib) / "harness" / "_data" / source.relative_to(root)
                    self.mkpath(str(target.parent))
                    self.copy_file(str(source), str(target))


setup(cmdclass={"build_py": BuildWithData})
