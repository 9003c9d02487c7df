"""Serving a finished run over HTTP: ``recsys serve --run N`` (FastAPI + uvicorn).

``state`` holds a run in memory and answers known users and posted histories; ``app`` is the
API around it; ``safety`` says where it may listen without a key and bounds request bodies.
FastAPI is imported only by ``app``, so the CLI loads it only when serving.
"""
