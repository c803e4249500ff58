"""The REDS pipelines' command line (models/reds/cli.py) without training:
a work folder made with one recipe is not reused with another unless
--force says so; --threads below 1 is a usage error."""

import dataclasses
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models"))
from dyce_build.errors import BuildError  # noqa: E402
from reds import cli, pipeline  # noqa: E402


def check_recipe():
    with tempfile.TemporaryDirectory() as work:
        smoke = pipeline.SMOKE
        cli.check_recipe(work, smoke, force=False)           # a new folder: recorded
        cli.check_recipe(work, smoke, force=False)           # the same recipe: fine
        cli.check_recipe(work, dataclasses.replace(smoke, threads=2), force=False)  # threads: not the recipe
        other = dataclasses.replace(smoke, finetune_epochs=2, finetune_kd=0.0)
        try:
            cli.check_recipe(work, other, force=False)
            raise AssertionError("another recipe reused the work folder")
        except BuildError as err:
            assert "another recipe (finetune_epochs 1 -> 2, finetune_kd 1.0 -> 0.0)" in str(err), err
        cli.check_recipe(work, other, force=True)            # --force: retrain, and record it
        cli.check_recipe(work, other, force=False)


def check_threads():
    class Args:
        work = out = "/nonexistent/never-made"
        until, force = "search", False
    code = cli.run(pipeline, Args(), dataclasses.replace(pipeline.SMOKE, threads=0))
    assert code == 2, code
    assert not os.path.exists(Args.work)


def main():
    check_recipe()
    check_threads()
    print("test_reds_cli: ok")


if __name__ == "__main__":
    main()
