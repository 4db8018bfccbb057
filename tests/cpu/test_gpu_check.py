"""benchmarks/gpu_check.py runs to completion on CPU with a tiny model, in a process where Ray, vLLM and DeepSpeed
cannot be imported (as on the single-GPU check machine), and its three scoring paths agree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Run the script with the three packages made unimportable (a None entry in sys.modules makes `import` fail).
RUNNER = """
import runpy, sys
for name in ("ray", "vllm", "deepspeed"):
    sys.modules[name] = None
sys.argv = ["gpu_check.py", "--device", "cpu", "--tiny", "--pairs", "16"]
runpy.run_path("benchmarks/gpu_check.py", run_name="__main__")
"""


def test_gpu_check_runs_on_cpu_without_ray_vllm_or_deepspeed():
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    numbers = json.loads(proc.stdout.strip().splitlines()[-1])
    assert numbers["p_yes_equal"] and numbers["max_dp_two_logit_vs_full_vocab"] < 1e-5
    # r=4 on q, k, v, o, gate, up, down of 2 layers (hidden 64, k/v 32, MLP 128): peft made what the planner counts
    assert numbers["lora_params"] == 2 * 4 * (2 * (64 + 64) + 2 * (64 + 32) + 3 * (64 + 128)) == 8192
    assert numbers["train_tokens_per_s"] > 0 and 0 < numbers["mfu"] < numbers["planner_mfu_bound"] < 1
    assert min(numbers[k] for k in ("pairs_per_s_prefix_cache", "pairs_per_s_no_cache", "pairs_per_s_full_vocab")) > 0
    assert numbers["prefix_tokens_mean"] < numbers["prompt_tokens_mean"]
