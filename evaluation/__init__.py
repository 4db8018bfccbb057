"""Evaluation stages: threshold calibration, the evaluation report, CIKM submission files.

Named ``evaluation`` rather than ``evaluate`` so that it never shadows Hugging Face's ``evaluate`` package, which
libraries probe for by import name.
"""
