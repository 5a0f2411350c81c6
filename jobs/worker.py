"""The worker: loads every model once per process, then runs jobs in that same process.

rq's default worker forks a work horse per job, so each job would inherit the models but pay ~20 ms
of fork and bookkeeping (FINDINGS: ~45 jobs/s against 170-200 for SimpleWorker). Our jobs are short
CPU-bound numpy calls with a hard timeout, so ``SimpleWorker`` runs them in-process. The price: a job
that kills the process kills the worker; rq then finds the job abandoned and retries it or moves it
to the failed registry, and the supervisor starts a new worker.
"""

from __future__ import annotations

from rq import SimpleWorker

from jobs import model_cache

WORKER_MODELS_KEY = "tnaas:workers:models"  # worker name -> model version it holds (for /healthz)


class ModelWorker(SimpleWorker):
    """``rq worker --worker-class jobs.worker.ModelWorker``: preload, then check the deployed version."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        model_cache.preload()
        self._report_models()

    def _report_models(self) -> None:
        self.connection.hset(WORKER_MODELS_KEY, self.name, model_cache.loaded_version() or "")

    def execute_job(self, job, queue):
        if model_cache.reload_if_deployed(self.connection):
            self._report_models()
        return super().execute_job(job, queue)

    def teardown(self):
        self.connection.hdel(WORKER_MODELS_KEY, self.name)
        super().teardown()
