"""The clock the benchmark's timed decisions read: the training loop's deadline and fitted
schedule, the calibration, the training child's wall time and the watchdog.

A clock is called as the loop calls it (``clock()``) and read by observers with
``clock.now()``. On a real run both are ``time.monotonic`` (one clock for the parent and
the training child). :class:`FakeClock` advances a fixed amount whenever it is called and
never when it is only read, so the steps a budget holds, the plan and the watchdog's moment
are the same on every machine and under any load (used by the tests).
"""

from __future__ import annotations

import multiprocessing as mp
import time
from typing import Protocol


class Clock(Protocol):
    def __call__(self) -> float: ...  # the time, as the training loop reads it

    def now(self) -> float: ...  # the time, as an observer reads it


class MonotonicClock:
    """``time.monotonic``: the same clock in every process of this machine."""

    def __call__(self) -> float:
        return time.monotonic()

    def now(self) -> float:
        return time.monotonic()


MONOTONIC = MonotonicClock()


class FakeClock:
    """A clock that advances ``tick`` seconds at every call, shared with the training child.

    Its count of ticks lives in shared memory (handed to a spawned child with the process's
    arguments), so the parent's watchdog reads the time the child's loop has advanced. The
    time is ``start + ticks * tick``: with binary fractions (1/16 s) every sum is exact.
    """

    def __init__(self, tick: float = 0.0625, start: float = 1024.0):
        if tick <= 0:
            raise ValueError(f"tick must be positive, got {tick}")
        self.tick, self.start = tick, start
        self._ticks = mp.get_context("spawn").Value("q", 0)

    def __call__(self) -> float:
        with self._ticks.get_lock():
            self._ticks.value += 1
            return self.start + self._ticks.value * self.tick

    def now(self) -> float:
        return self.start + self._ticks.value * self.tick


class Laps:
    """A clock that keeps every reading the training loop takes (the calibration's step
    times: a loop with a deadline reads the clock before each step)."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self.readings: list[float] = []

    def __call__(self) -> float:
        t = self.clock()
        self.readings.append(t)
        return t

    def now(self) -> float:
        return self.clock.now()
