"""Engines that run a stored run elsewhere than this process (e.g. on a Spark cluster).

Each engine is a subpackage giving a stage with the shape of
:data:`recsys_core.jobs.runs.EngineStage`; the worker is handed the stages it can drive.
Nothing here is imported at app or CLI start: pyspark loads only when a Spark run starts.
"""
