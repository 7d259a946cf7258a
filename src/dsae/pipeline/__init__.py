"""Run-level glue: load a run, write its outputs, evaluate it, build its report."""
