"""Ray Data stages: ingest + validation, language audit, augmentation, batch scoring."""
