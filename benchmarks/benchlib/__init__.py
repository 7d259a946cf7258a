"""The parts of ``benchmarks/sprites.py``: the machine, FLOPs, calibration, planning and the
training child, targets, and the clock every timed decision reads."""
