"""Ray Train: LoRA fine-tuning (DDP or DeepSpeed), checkpoints and resume."""
