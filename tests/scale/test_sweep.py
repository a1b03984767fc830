"""`harness run -m`: Hydra multirun, one run per combination, each equal to the same single run."""

from __future__ import annotations

import importlib.util

import pytest

from harness.cli import main
from tests.scale.test_torchrun import _make_data


def test_multirun_runs_every_combination_like_single_runs(tmp_path, tiny_model, capsys):
    data = tmp_path / "data"
    _make_data(data)
    common = [f"model.path={tiny_model}", f"data_dir={data}", "protocol=jmteb", "cache=false",
              "encode.show_progress=false"]
    code = main(["run", "-m", *common, "tasks=[jsts]", "encode.batch_size=4,16",
                 f"output_dir={tmp_path}/sweep_out/${{hydra:job.num}}", f"hydra.sweep.dir={tmp_path}/hydra"])
    assert code == 0
    assert capsys.readouterr().out.count("results written to") == 2
    for num, size in enumerate([4, 16]):
        single = tmp_path / f"single_{num}"
        assert main(["run", *common, "tasks=[jsts]", f"encode.batch_size={size}", f"output_dir={single}"]) == 0
        for path in [single / "STS" / "scores_jsts.json"]:
            swept = tmp_path / "sweep_out" / str(num) / path.relative_to(single)
            assert swept.read_bytes() == path.read_bytes()
    assert (tmp_path / "hydra" / "0" / ".hydra" / "overrides.yaml").is_file()  # Hydra's record of each job


def test_multirun_unknown_model_fails_before_any_job(tmp_path, capsys):
    assert main(["run", "-m", "model=all-minilm-l6-v2,no-such-model", f"hydra.sweep.dir={tmp_path}/h"]) == 2
    assert "unknown model 'no-such-model'" in capsys.readouterr().err
    assert not (tmp_path / "h").exists()


def _has_submitit_launcher() -> bool:
    try:  # find_spec of a dotted name raises when the parent package is absent
        return importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is not None
    except ModuleNotFoundError:
        return False


@pytest.mark.skipif(not _has_submitit_launcher(),
                    reason="optional extra 'cluster' (hydra-submitit-launcher) not installed")
@pytest.mark.parametrize("launcher", ["slurm", "slurm_cpu"])
def test_slurm_launcher_configs_compose(launcher):
    from hydra import compose, initialize_config_dir

    from harness.paths import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("sweep", overrides=[f"hydra/launcher={launcher}"], return_hydra_config=True)
    launcher_cfg = cfg.hydra.launcher
    assert launcher_cfg._target_.endswith("submitit_launcher.SlurmLauncher")
    assert launcher_cfg.gpus_per_node == (1 if launcher == "slurm" else 0)
    assert launcher_cfg.tasks_per_node == 1 and launcher_cfg.array_parallelism == 16
