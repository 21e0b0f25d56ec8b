"""Before the pod is created: checks that would keep it from starting, with the fix for each."""
