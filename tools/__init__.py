"""Development tooling that never ships in et_sorawm: the synthetic clip generator (synth/)
and the detector's training and evaluation (train/)."""
