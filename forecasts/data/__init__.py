"""Data tables shipped with ``forecasts``.

``demo_grid.csv`` is computed by ``scripts/build_demo_grid.py`` from Electricity Maps data and
is published under the Open Database License (ODbL) with attribution to Electricity Maps.
"""
