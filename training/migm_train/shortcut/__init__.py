"""The parts every family's shortcut shares: the trainer (train.py: the paper's recipe, the loss, the loop, the
held-out comparison with feature reuse and Taylor) and the trajectory recording (recording.py: reader, pairs,
writer). A family adds its shortcut module and an adapter in its own folder (see migm_train/families.py)."""
