"""The simulator behind ``carbonshift simulate`` and ``carbonshift demo``.

``scenario`` reads the jobs CSV and regions YAML, ``engine`` replays time under a policy,
``forecast_errors`` decides what the policy sees of the future, ``accounting`` applies the
FORMATS.md rules, ``checks`` verifies every deadline and capacity, ``output`` writes the
schedule CSV and result JSON, and ``runner`` ties them together.
"""
