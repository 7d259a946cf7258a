"""Run-level glue: load a run, evaluate it, write its outputs and reports."""
