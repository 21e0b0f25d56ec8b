"""While the pod starts, runs and ends: pure verdicts shared by the operator and the trigger."""
