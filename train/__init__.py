"""Ray Train: LoRA fine-tuning, checkpoints and resume, threshold calibration, evaluation reports."""
