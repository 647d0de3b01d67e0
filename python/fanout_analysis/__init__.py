"""fanout_analysis: read fanout run files (docs/file-format.md) into pandas.

    import fanout_analysis as fa
    run = fa.load("results/primes.h5")
    run.tasks          # DataFrame indexed by task id
    fa.summary(run)    # the figures of `fanout report`

docs/analysis.md describes the module; fanout_plot.py (fanout plot) draws
its figures from the helpers below.
"""

from .derived import (ScalingError, amdahl_fit, amdahl_speedup, durations, lanes, scaling, summary, timeline_bars,
                      utilisation)
from .runfile import FORMAT_MAJOR, FanoutFileError, Run, load

__all__ = [
    "FORMAT_MAJOR", "FanoutFileError", "Run", "ScalingError", "amdahl_fit", "amdahl_speedup", "durations", "lanes",
    "load", "scaling", "summary", "timeline_bars", "utilisation",
]
