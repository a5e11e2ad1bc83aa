"""``guardian demo``: the whole system on one machine, with a sample camera and a simulated Pi."""
